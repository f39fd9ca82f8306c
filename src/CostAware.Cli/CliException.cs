namespace CostAware.Cli;

// A problem with the user's input, said in one line that names the file, line and field: printed, exit code 2.
internal sealed class CliException(string message) : Exception(message)
{
    public static CliException At(string file, long line, string field, string problem) =>
        new($"{file}:{line}: {field}: {problem}");
}

namespace CostAware.Cli.Tests;

// The shared data lives beside the repository (../shared/data), never copied into it.
internal static class TestFiles
{
    public static string SharedData()
    {
        for (DirectoryInfo? dir = new(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "CostAware.sln")))
            {
                return Path.GetFullPath(Path.Combine(dir.FullName, "..", "shared", "data"));
            }
        }

        throw new DirectoryNotFoundException("CostAware.sln not found above " + AppContext.BaseDirectory);
    }
}

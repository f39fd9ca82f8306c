namespace CostAware.Cli;

// RFC 4180 fields: of one line (CostLedgerExport writes no line breaks inside fields; a leading apostrophe that the
// export added against spreadsheet formulas is removed), or of one record that may span lines (recorded answers).
internal static class Csv
{
    public static string[] Split(string text, string file, long line, bool formulaGuard = true)
    {
        List<string> fields = [];
        System.Text.StringBuilder current = new();
        bool quoted = false;
        bool wasQuoted = false;
        for (int i = 0; i < text.Length; i++)
        {
            char ch = text[i];
            if (quoted)
            {
                if (ch == '"' && i + 1 < text.Length && text[i + 1] == '"')
                {
                    current.Append('"');
                    i++;
                }
                else if (ch == '"')
                {
                    quoted = false;
                }
                else
                {
                    current.Append(ch);
                }
            }
            else if (ch == '"' && current.Length == 0)
            {
                quoted = wasQuoted = true;
            }
            else if (ch == ',')
            {
                fields.Add(Unescape(current.ToString(), wasQuoted && formulaGuard));
                current.Clear();
                wasQuoted = false;
            }
            else
            {
                current.Append(ch);
            }
        }

        if (quoted)
        {
            throw CliException.At(file, line, "row", "a quoted field is not closed");
        }

        fields.Add(Unescape(current.ToString(), wasQuoted && formulaGuard));
        return [.. fields];
    }

    private static string Unescape(string value, bool quoted) =>
        quoted && value.Length > 1 && value[0] == '\'' && value[1] is '=' or '+' or '-' or '@' or '\t' or '\r' ? value[1..] : value;

    // One record from the reader, joining lines while a quoted field is open (an odd count of quotes so far: an escaped
    // quote is two); null at the end. The line count moves past every line read, and the record's first line is returned.
    public static async Task<(string[] Fields, long Line)?> ReadRecordAsync(TextReader reader, string file, Ref<long> line, CancellationToken cancellationToken)
    {
        string? text = await reader.ReadLineAsync(cancellationToken);
        if (text is null)
        {
            return null;
        }

        long first = ++line.Value;
        int quotes = text.Count(static c => c == '"');
        while (quotes % 2 == 1)
        {
            string? more = await reader.ReadLineAsync(cancellationToken) ?? throw CliException.At(file, first, "row", "a quoted field is not closed before the end of the file");
            line.Value++;
            quotes += more.Count(static c => c == '"');
            text = text + "\n" + more;
        }

        return (Split(text, file, first, formulaGuard: false), first);
    }

    // A counter an async method can move (it cannot take a ref).
    public sealed class Ref<T>(T value)
    {
        public T Value { get; set; } = value;
    }
}

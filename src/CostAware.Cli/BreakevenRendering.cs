using System.Globalization;
using System.Net;
using System.Text;
using Spectre.Console;

namespace CostAware.Cli;

// The break-even table in the terminal, and one self-contained HTML file with the cumulative costs as an SVG line chart.
internal static class BreakevenRendering
{
    public static void Terminal(Breakeven result, IAnsiConsole console)
    {
        console.MarkupLine(CultureInfo.InvariantCulture, $"[bold]API ({Markup.Escape(result.Model)}: ${ReportRendering.Plain(result.ApiInputPrice)} in, ${ReportRendering.Plain(result.ApiOutputPrice)} out per million) against local hardware at {result.PromptTokensPerSecond:0.#} prompt and {result.OutputTokensPerSecond:0.#} answer tokens/s per GPU[/]");
        Table table = new Table().AddColumns("month", "input tokens", "output tokens", "GPUs", "API", "rented", "owned", "API total", "rented total", "owned total");
        foreach (Breakeven.Month m in result.Months)
        {
            table.AddRow(
                m.Number.ToString(CultureInfo.InvariantCulture), m.InputTokens.ToString("N0", CultureInfo.InvariantCulture), m.OutputTokens.ToString("N0", CultureInfo.InvariantCulture),
                m.Gpus.ToString(CultureInfo.InvariantCulture), Dollars(m.Api), Dollars(m.Rented), Dollars(m.Owned), Dollars(m.ApiTotal), Dollars(m.RentedTotal), Dollars(m.OwnedTotal));
        }

        console.Write(table);
        console.MarkupLine(Verdict("Renting", result.RentedBreaksEvenInMonth, result.Months.Count));
        console.MarkupLine(Verdict("Owning", result.OwnedBreaksEvenInMonth, result.Months.Count));
    }

    public static string Verdict(string what, int? month, int months) => month is { } m
        ? string.Create(CultureInfo.InvariantCulture, $"{what} costs no more than the API in total from month {m}.")
        : string.Create(CultureInfo.InvariantCulture, $"{what} does not catch up with the API within {months} months.");

    public static string Html(Breakeven result)
    {
        const int Width = 720, Height = 320, Left = 80, Bottom = 30;
        decimal max = Math.Max(1m, result.Months.Max(static m => Math.Max(m.ApiTotal, Math.Max(m.RentedTotal, m.OwnedTotal))));
        int n = Math.Max(1, result.Months.Count - 1);
        string Line(Func<Breakeven.Month, decimal> value, string id, string color) =>
            $"<polyline id=\"{id}\" fill=\"none\" stroke=\"{color}\" stroke-width=\"2\" points=\"" +
            string.Join(' ', result.Months.Select((m, i) => string.Create(CultureInfo.InvariantCulture, $"{Left + (i * (Width - Left - 10) / (double)n):0.#},{Height - Bottom - (double)(value(m) / max) * (Height - Bottom - 10):0.#}"))) + "\"/>";
        StringBuilder html = new();
        html.Append("<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>CostAware break-even</title><style>")
            .Append("body{font-family:system-ui,sans-serif;margin:2em;color:#222}table{border-collapse:collapse}th,td{border:1px solid #ccc;padding:.2em .5em;text-align:right}")
            .Append("</style></head><body><h1>API against rented and owned hardware</h1>")
            .Append("<p>").Append(WebUtility.HtmlEncode(Verdict("Renting", result.RentedBreaksEvenInMonth, result.Months.Count))).Append(' ')
            .Append(WebUtility.HtmlEncode(Verdict("Owning", result.OwnedBreaksEvenInMonth, result.Months.Count))).Append("</p>")
            .Append(CultureInfo.InvariantCulture, $"<figure id=\"chart\"><figcaption>Cumulative cost (USD): API blue, rented orange, owned green; up to {Dollars(max)}</figcaption><svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{Width}\" height=\"{Height}\" viewBox=\"0 0 {Width} {Height}\">")
            .Append(CultureInfo.InvariantCulture, $"<line x1=\"{Left}\" y1=\"{Height - Bottom}\" x2=\"{Width}\" y2=\"{Height - Bottom}\" stroke=\"#999\"/><line x1=\"{Left}\" y1=\"0\" x2=\"{Left}\" y2=\"{Height - Bottom}\" stroke=\"#999\"/>")
            .Append(CultureInfo.InvariantCulture, $"<text x=\"0\" y=\"14\" font-size=\"12\">{Dollars(max)}</text><text x=\"{Left}\" y=\"{Height - 8}\" font-size=\"12\">month 1</text><text x=\"{Width - 70}\" y=\"{Height - 8}\" font-size=\"12\">month {result.Months.Count}</text>")
            .Append(Line(static m => m.ApiTotal, "api", "#3b6fb6")).Append(Line(static m => m.RentedTotal, "rented", "#e08a1e")).Append(Line(static m => m.OwnedTotal, "owned", "#2e9b4f"))
            .Append("</svg></figure><table id=\"months\"><tr><th>month</th><th>GPUs</th><th>API total</th><th>rented total</th><th>owned total</th></tr>");
        foreach (Breakeven.Month m in result.Months)
        {
            html.Append(CultureInfo.InvariantCulture, $"<tr><td>{m.Number}</td><td>{m.Gpus}</td><td>{Dollars(m.ApiTotal)}</td><td>{Dollars(m.RentedTotal)}</td><td>{Dollars(m.OwnedTotal)}</td></tr>");
        }

        return html.Append("</table></body></html>").ToString();
    }

    private static string Dollars(decimal value) => "$" + decimal.Round(value, 2).ToString("N2", CultureInfo.InvariantCulture);
}

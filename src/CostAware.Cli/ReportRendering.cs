using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using Spectre.Console;

namespace CostAware.Cli;

// The report as terminal tables, JSON, or one self-contained HTML file with inline SVG charts (opens offline: no
// script, no font or style sheet from elsewhere).
internal static class ReportRendering
{
    public static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        WriteIndented = true,
        Converters = { new JsonStringEnumConverter() },
    };

    // Exact and invariant, without the trailing zeros a sum of prices carries (0.00350000 is written 0.0035).
    public static string Plain(decimal value) => (value / 1.000000000000000000000000000000000m).ToString(CultureInfo.InvariantCulture);

    public static string Money(decimal value) => "$" + Plain(value);

    public static void Terminal(SpendReport report, IAnsiConsole console)
    {
        console.MarkupLine($"[bold]CostAware report[/] — {Markup.Escape(report.Source)}, days in {Markup.Escape(report.TimeZone)}");
        Table totals = new Table().AddColumns("spent", "avoided by caches", "saved by batch", "saved by provider caches", "calls", "cache hits", "input tokens", "output tokens", "tokens avoided");
        SpendReport.Totals t = report.Total;
        totals.AddRow(Money(t.Spent), Money(t.CacheAvoided), Money(t.BatchSaved), Money(t.ProviderCacheSaved), N(t.Calls), N(t.CacheHits), N(t.InputTokens), N(t.OutputTokens), N(t.AvoidedTokens));
        console.Write(totals);
        Rows(console, "Spend by model", "model", report.ByModel);
        Rows(console, $"Spend by {report.GroupBy.ToLowerInvariant()}", report.GroupBy.ToLowerInvariant(), report.ByScope);
        Rows(console, "Spend by day", "day", report.ByDay);
        Rows(console, "Top spenders", report.GroupBy.ToLowerInvariant(), report.TopSpenders);
        Table savings = new Table { Title = new TableTitle("Savings by stage") }.AddColumns("stage", "saved", "answers");
        foreach (SpendReport.Saving s in report.SavingsByStage)
        {
            savings.AddRow(Markup.Escape(s.Stage), Money(s.Saved), N(s.Count));
        }

        console.Write(savings);
        Table agents = new Table { Title = new TableTitle("Agents: cost per completed task") }.AddColumns("agent", "spent", "tasks", "cost per task", "value per task", "");
        foreach (SpendReport.Agent a in report.Agents)
        {
            agents.AddRow(Markup.Escape(a.Name), Money(a.Spent), N(a.Tasks), Money(a.CostPerTask), a.ValuePerTask is { } v ? Money(v) : "(not declared)", a.Zombie ? "[red]ZOMBIE: costs more than it is worth[/]" : string.Empty);
        }

        console.Write(agents);
        console.MarkupLine($"Budget refusals: {Markup.Escape(report.BudgetRefusals)}");
    }

    private static void Rows(IAnsiConsole console, string title, string name, IReadOnlyList<SpendReport.Row> rows)
    {
        Table table = new Table { Title = new TableTitle(title) }.AddColumns(name, "spent", "avoided", "calls", "cache hits", "input tokens", "output tokens");
        foreach (SpendReport.Row r in rows)
        {
            table.AddRow(Markup.Escape(r.Name), Money(r.Spent), Money(r.Avoided), N(r.Calls), N(r.CacheHits), N(r.InputTokens), N(r.OutputTokens));
        }

        console.Write(table);
    }

    private static string N(long value) => value.ToString("N0", CultureInfo.InvariantCulture);

    public static string Html(SpendReport report)
    {
        StringBuilder html = new();
        string E(string text) => WebUtility.HtmlEncode(text);
        html.Append("<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>CostAware report</title><style>")
            .Append("body{font-family:system-ui,sans-serif;margin:2em;color:#222}table{border-collapse:collapse;margin:1em 0}")
            .Append("th,td{border:1px solid #ccc;padding:.3em .6em;text-align:right}th:first-child,td:first-child{text-align:left}")
            .Append(".zombie{color:#b00;font-weight:bold}figure{margin:1em 0}figcaption{font-weight:bold}")
            .Append("</style></head><body>");
        html.Append("<h1>CostAware report</h1><p>").Append(E(report.Source)).Append(", days in ").Append(E(report.TimeZone)).Append("</p>");
        SpendReport.Totals t = report.Total;
        html.Append("<table id=\"totals\"><tr><th>spent</th><th>avoided by caches</th><th>saved by batch</th><th>saved by provider caches</th><th>calls</th><th>cache hits</th></tr><tr>")
            .Append(Td(Money(t.Spent))).Append(Td(Money(t.CacheAvoided))).Append(Td(Money(t.BatchSaved))).Append(Td(Money(t.ProviderCacheSaved)))
            .Append(Td(N(t.Calls))).Append(Td(N(t.CacheHits))).Append("</tr></table>");
        html.Append(Chart("chart-days", "Spend over time (by day)", report.ByDay.Select(static r => (r.Name, r.Spent))));
        html.Append(Chart("chart-scope", $"Spend by {report.GroupBy.ToLowerInvariant()}", report.ByScope.Select(static r => (r.Name, r.Spent))));
        html.Append(Chart("chart-savings", "Savings by stage", report.SavingsByStage.Select(static s => (s.Stage, s.Saved))));
        HtmlRows(html, "by-model", "Spend by model", "model", report.ByModel);
        HtmlRows(html, "by-scope", $"Spend by {report.GroupBy.ToLowerInvariant()}", report.GroupBy.ToLowerInvariant(), report.ByScope);
        HtmlRows(html, "by-day", "Spend by day", "day", report.ByDay);
        HtmlRows(html, "top", "Top spenders", report.GroupBy.ToLowerInvariant(), report.TopSpenders);
        html.Append("<h2>Agents: cost per completed task</h2><table id=\"agents\"><tr><th>agent</th><th>spent</th><th>tasks</th><th>cost per task</th><th>value per task</th><th></th></tr>");
        foreach (SpendReport.Agent a in report.Agents)
        {
            html.Append("<tr").Append(a.Zombie ? " class=\"zombie\"" : string.Empty).Append('>').Append(Td(E(a.Name))).Append(Td(Money(a.Spent))).Append(Td(N(a.Tasks)))
                .Append(Td(Money(a.CostPerTask))).Append(Td(a.ValuePerTask is { } v ? Money(v) : "(not declared)")).Append(Td(a.Zombie ? "zombie: costs more than it is worth" : string.Empty)).Append("</tr>");
        }

        html.Append("</table><p>Budget refusals: ").Append(E(report.BudgetRefusals)).Append("</p></body></html>");
        return html.ToString();

        static string Td(string value) => "<td>" + value + "</td>";
    }

    private static void HtmlRows(StringBuilder html, string id, string title, string name, IReadOnlyList<SpendReport.Row> rows)
    {
        html.Append("<h2>").Append(WebUtility.HtmlEncode(title)).Append("</h2><table id=\"").Append(id).Append("\"><tr><th>").Append(WebUtility.HtmlEncode(name))
            .Append("</th><th>spent</th><th>avoided</th><th>calls</th><th>cache hits</th><th>input tokens</th><th>output tokens</th></tr>");
        foreach (SpendReport.Row r in rows)
        {
            html.Append("<tr><td>").Append(WebUtility.HtmlEncode(r.Name)).Append("</td><td>").Append(Money(r.Spent)).Append("</td><td>").Append(Money(r.Avoided))
                .Append("</td><td>").Append(N(r.Calls)).Append("</td><td>").Append(N(r.CacheHits)).Append("</td><td>").Append(N(r.InputTokens))
                .Append("</td><td>").Append(N(r.OutputTokens)).Append("</td></tr>");
        }

        html.Append("</table>");
    }

    // A horizontal bar chart as inline SVG: one bar per item, its length proportional to the amount.
    private static string Chart(string id, string title, IEnumerable<(string Label, decimal Value)> items)
    {
        (string Label, decimal Value)[] bars = [.. items.Take(30)];
        const int Width = 640, Bar = 18, Gap = 6, LabelWidth = 160;
        decimal max = bars.Length == 0 ? 1m : Math.Max(bars.Max(static b => b.Value), 0.0000000001m);
        StringBuilder svg = new();
        int height = Math.Max(1, bars.Length) * (Bar + Gap);
        svg.Append("<figure id=\"").Append(id).Append("\"><figcaption>").Append(WebUtility.HtmlEncode(title)).Append("</figcaption>")
            .Append(CultureInfo.InvariantCulture, $"<svg xmlns=\"http://www.w3.org/2000/svg\" role=\"img\" width=\"{Width}\" height=\"{height}\" viewBox=\"0 0 {Width} {height}\">");
        for (int i = 0; i < bars.Length; i++)
        {
            int y = i * (Bar + Gap);
            double length = (double)(Math.Max(bars[i].Value, 0m) / max) * (Width - LabelWidth - 120);
            svg.Append(CultureInfo.InvariantCulture, $"<text x=\"0\" y=\"{y + 13}\" font-size=\"12\">{WebUtility.HtmlEncode(bars[i].Label)}</text>")
                .Append(CultureInfo.InvariantCulture, $"<rect class=\"bar\" x=\"{LabelWidth}\" y=\"{y}\" width=\"{length:0.##}\" height=\"{Bar}\" fill=\"#3b6fb6\"><title>{WebUtility.HtmlEncode(bars[i].Label)}: {Money(bars[i].Value)}</title></rect>")
                .Append(CultureInfo.InvariantCulture, $"<text x=\"{LabelWidth + length + 6:0.##}\" y=\"{y + 13}\" font-size=\"12\">{Money(bars[i].Value)}</text>");
        }

        return svg.Append("</svg></figure>").ToString();
    }
}

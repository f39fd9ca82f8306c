using System.Diagnostics.Metrics;
using System.Text.Json;
using System.Text.RegularExpressions;
using CostAware.Shared;

namespace CostAware.Tests.Dashboards;

// The Grafana dashboard queries only what exists: every metric under the name OpenTelemetry's Prometheus naming gives
// the CostAware meter's instruments, every label a tag the meter emits. (Its ledger panels run against the real
// PostgreSQL ledger in PostgreSqlCostLedgerTests.)
public sealed partial class GrafanaDashboardTests
{
    internal static string RepoRoot()
    {
        for (DirectoryInfo? dir = new(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "CostAware.sln")))
            {
                return dir.FullName;
            }
        }

        throw new DirectoryNotFoundException("CostAware.sln not found above " + AppContext.BaseDirectory);
    }

    internal static JsonDocument Dashboard() => JsonDocument.Parse(File.ReadAllText(Path.Combine(RepoRoot(), "dashboards", "costaware-grafana.json")));

    internal static IEnumerable<(string DataSource, string Query)> Queries(JsonDocument dashboard)
    {
        foreach (JsonElement panel in dashboard.RootElement.GetProperty("panels").EnumerateArray())
        {
            foreach (JsonElement target in panel.GetProperty("targets").EnumerateArray())
            {
                string type = target.GetProperty("datasource").GetProperty("type").GetString()!;
                yield return (type, target.TryGetProperty("expr", out JsonElement expr) ? expr.GetString()! : target.GetProperty("rawSql").GetString()!);
            }
        }
    }

    // Prometheus names per OpenTelemetry's compatibility rules: dots become underscores, a unit in braces adds nothing,
    // a monotonic counter ends in _total.
    private static HashSet<string> PublishedMetrics()
    {
        HashSet<string> names = [];
        using MeterListener listener = new();
        listener.InstrumentPublished = (instrument, publishedTo) =>
        {
            if (instrument.Meter.Name == "CostAware")
            {
                Assert.True(instrument.Unit is null || instrument.Unit.StartsWith('{'), $"{instrument.Name}'s unit {instrument.Unit} would add a suffix this test does not model");
                bool counter = instrument.GetType().Name.StartsWith("Counter", StringComparison.Ordinal);
                _ = names.Add(instrument.Name.Replace('.', '_') + (counter ? "_total" : string.Empty));
            }
        };
        listener.Start();
        using CostAwareMetrics metrics = new(meterFactory: null);
        string file = Path.Combine(Path.GetTempPath(), "costaware-dash-" + Guid.NewGuid().ToString("N") + ".db");
        try
        {
            using SqliteCostLedger ledger = new(new SqliteCostLedgerOptions { Path = file });
        }
        finally
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            File.Delete(file);
        }

        return names;
    }

    // Every tag the meter's code emits, as a Prometheus label.
    private static HashSet<string> EmittedLabels()
    {
        string source = File.ReadAllText(Path.Combine(RepoRoot(), "src", "Shared", "Receipts", "CostAwareMetrics.cs"));
        return [.. TagKey().Matches(source).Select(static m => m.Groups[1].Value.Replace('.', '_'))];
    }

    [Fact]
    public void EveryMetricTheDashboardQueries_IsPublishedByTheCostAwareMeterUnderThatName()
    {
        using JsonDocument dashboard = Dashboard();
        HashSet<string> published = PublishedMetrics();
        HashSet<string> labels = EmittedLabels();
        HashSet<string> queried = [];
        foreach ((_, string expr) in Queries(dashboard).Where(static q => q.DataSource == "prometheus"))
        {
            foreach (Match by in GroupedBy().Matches(expr))
            {
                foreach (string label in by.Groups[1].Value.Split(',', StringSplitOptions.TrimEntries))
                {
                    Assert.Contains(label, labels);
                }
            }

            foreach (Match selector in Selector().Matches(expr))
            {
                Assert.Contains(selector.Groups[1].Value, labels);
            }

            foreach (Match metric in MetricName().Matches(Selector().Replace(GroupedBy().Replace(expr, string.Empty), string.Empty)))
            {
                _ = queried.Add(metric.Value);
                Assert.True(published.Contains(metric.Value), $"the dashboard queries {metric.Value}, which the CostAware meter does not publish ({string.Join(", ", published.Order())})");
            }
        }

        // What the dashboard is for: spend, cache savings, budget refusals, batch discount, the ledger's health.
        Assert.Superset(
            new HashSet<string> { "costaware_cost_total", "costaware_cost_avoided_total", "costaware_budget_exceeded_total", "costaware_batch_calls_total", "costaware_ledger_dropped_total", "costaware_ledger_buffered" },
            queried);
    }

    [GeneratedRegex(@"\bby \(([^)]*)\)")]
    private static partial Regex GroupedBy();

    [GeneratedRegex(@"([a-z_]+)=""[^""]*""")]
    private static partial Regex Selector();

    [GeneratedRegex(@"\bcostaware_[a-z0-9_]+\b")]
    private static partial Regex MetricName();

    [GeneratedRegex(@"(?:[Tt]ags\.Add\(|AddIfSet\(ref tags, )""((?:gen_ai|costaware)\.[a-z_.]+)""")]
    private static partial Regex TagKey();
}

using System.Diagnostics;
using System.Text;
using System.Text.Json;
using Microsoft.Playwright;

namespace CostAware.Cli.Tests;

// The costaware tool run as a child process on small ledgers whose money is known to the cent and below.
public sealed class CliTests : IDisposable
{
    private static readonly DateTimeOffset Day1 = new(2026, 12, 6, 10, 0, 0, TimeSpan.Zero);
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "costaware-cli-" + Guid.NewGuid().ToString("N"));

    public CliTests() => Directory.CreateDirectory(_dir);

    public void Dispose()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        Directory.Delete(_dir, recursive: true);
    }

    private static string Tool() => Path.Combine(
        AppContext.BaseDirectory.Replace(Path.Combine("tests", "CostAware.Cli.Tests"), Path.Combine("src", "CostAware.Cli"), StringComparison.Ordinal), "CostAware.Cli.dll");

    internal static async Task<(int Exit, string Out, string Error)> RunAsync(params string[] args)
    {
        ProcessStartInfo start = new("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add(Tool());
        foreach (string arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        start.Environment["NO_COLOR"] = "1";
        using Process process = Process.Start(start)!;
        Task<string> output = process.StandardOutput.ReadToEndAsync();
        Task<string> error = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        return (process.ExitCode, await output, await error);
    }

    private static CostReceipt Receipt(string tenant, string? agent, string? workflow, DateTimeOffset at, params CostReceiptEntry[] entries)
    {
        CostReceipt receipt = new(Guid.NewGuid(), new CostScope { Tenant = tenant, Agent = agent, Workflow = workflow, Feature = "support" }, at);
        foreach (CostReceiptEntry entry in entries)
        {
            receipt.Add(entry);
        }

        return receipt;
    }

    private static CostReceiptEntry Call(DateTimeOffset at, string model, decimal cost, bool batch = false) => new()
    {
        Kind = CostEntryKind.ProviderCall, ModelId = model, Provider = "openai", Timestamp = at, Stage = "metering", IsBatch = batch,
        Tokens = new TokenCounts { Input = 1000, Output = 100 }, Cost = new CostBreakdown { Input = cost },
    };

    private static CostReceiptEntry Hit(DateTimeOffset at, string stage, decimal avoided) => new()
    {
        Kind = CostEntryKind.CacheHit, ModelId = "gpt-4o", Timestamp = at, Stage = stage, Tokens = new TokenCounts { Input = 1000, Output = 100 }, CostAvoided = avoided,
    };

    // Acme: 3 calls ($0.0035 + $0.0035 + $0.00105 in batch) and a semantic hit that avoided $0.0035; globex: one call of
    // $0.0125 the next day. Agent "triage" ran 2 tasks (workflows w1, w2) for $0.007.
    private static async Task<T> LedgerAsync<T>(T ledger)
        where T : ICostLedger
    {
        await ledger.RecordAsync(Receipt("acme", "triage", "w1", Day1, Call(Day1, "gpt-4o", 0.0035m)));
        await ledger.RecordAsync(Receipt("acme", "triage", "w2", Day1.AddMinutes(5), Call(Day1.AddMinutes(5), "gpt-4o", 0.0035m), Hit(Day1.AddMinutes(5), "semantic_cache", 0.0035m)));
        await ledger.RecordAsync(Receipt("acme", null, null, Day1.AddMinutes(9), Call(Day1.AddMinutes(9), "gpt-4o-mini", 0.00105m, batch: true)));
        await ledger.RecordAsync(Receipt("globex", null, null, Day1.AddDays(1), Call(Day1.AddDays(1), "gpt-4o", 0.0125m)));
        return ledger;
    }

    private async Task<string> ExportAsync(string name)
    {
        string path = Path.Combine(_dir, name);
        InMemoryCostLedger ledger = await LedgerAsync(new InMemoryCostLedger());
        await using FileStream file = File.Create(path);
        _ = name.EndsWith(".csv", StringComparison.Ordinal) ? await ledger.WriteCsvAsync(file) : await ledger.WriteJsonLinesAsync(file);
        return path;
    }

    [Theory]
    [InlineData("ledger.jsonl")]
    [InlineData("ledger.csv")]
    [InlineData("ledger.db")]
    public async Task TheReport_OfAKnownLedger_IsExact_FromEveryKindOfSource(string name)
    {
        string path;
        if (name.EndsWith(".db", StringComparison.Ordinal))
        {
            path = Path.Combine(_dir, name);
            await using SqliteCostLedger sqlite = await LedgerAsync(new SqliteCostLedger(new SqliteCostLedgerOptions { Path = path }));
        }
        else
        {
            path = await ExportAsync(name);
        }

        (int exit, string output, string error) = await RunAsync("report", "--ledger", path, "--json", "--value", "triage=0.01");

        Assert.True(exit == 0, error);
        using JsonDocument report = JsonDocument.Parse(output);
        JsonElement root = report.RootElement;
        JsonElement total = root.GetProperty("total");
        Assert.Equal(0.02055m, total.GetProperty("spent").GetDecimal());
        Assert.Equal(0.0035m, total.GetProperty("cacheAvoided").GetDecimal());
        Assert.Equal(0.00105m, total.GetProperty("batchSaved").GetDecimal());
        Assert.Equal(4, total.GetProperty("calls").GetInt64());
        Assert.Equal(1, total.GetProperty("cacheHits").GetInt64());
        Assert.Equal(1100, total.GetProperty("avoidedTokens").GetInt64());
        Assert.Equal(["globex", "acme"], root.GetProperty("topSpenders").EnumerateArray().Select(static r => r.GetProperty("name").GetString()));
        Assert.Equal(0.00805m, root.GetProperty("byScope").EnumerateArray().Single(static r => r.GetProperty("name").GetString() == "acme").GetProperty("spent").GetDecimal());
        Assert.Equal(["2026-12-06", "2026-12-07"], root.GetProperty("byDay").EnumerateArray().Select(static r => r.GetProperty("name").GetString()));
        JsonElement triage = Assert.Single(root.GetProperty("agents").EnumerateArray());
        Assert.Equal(2, triage.GetProperty("tasks").GetInt64());
        Assert.Equal(0.0035m, triage.GetProperty("costPerTask").GetDecimal());
        Assert.False(triage.GetProperty("zombie").GetBoolean());
        Assert.Contains(root.GetProperty("savingsByStage").EnumerateArray(), static s => s.GetProperty("stage").GetString() == "semantic_cache" && s.GetProperty("saved").GetDecimal() == 0.0035m);
    }

    [Fact]
    public async Task AnAgentThatCostsMoreThanItsTasksAreWorth_IsFlaggedAZombie_AndTheExitCodeSaysSo()
    {
        string path = await ExportAsync("ledger.jsonl");

        (int exit, string output, _) = await RunAsync("report", "--ledger", path, "--json", "--value", "triage=0.002");

        Assert.Equal(1, exit);
        using JsonDocument report = JsonDocument.Parse(output);
        Assert.True(Assert.Single(report.RootElement.GetProperty("agents").EnumerateArray()).GetProperty("zombie").GetBoolean());
    }

    [Theory]
    [InlineData("cost_usd", "lots", "is not an amount of money")]
    [InlineData("timestamp", "yesterday", "is not an ISO 8601 date")]
    [InlineData("colour", "red", "unknown column")]
    public async Task AMalformedRow_StopsTheReport_WithOneLineNamingFileLineAndField(string field, string value, string problem)
    {
        string path = await ExportAsync("ledger.jsonl");
        string[] lines = await File.ReadAllLinesAsync(path);
        System.Text.Json.Nodes.JsonObject row = System.Text.Json.Nodes.JsonNode.Parse(lines[2])!.AsObject();
        row[field] = value;
        lines[2] = row.ToJsonString();
        await File.WriteAllLinesAsync(path, lines);

        (int exit, string output, string error) = await RunAsync("report", "--ledger", path);

        Assert.Equal(2, exit);
        Assert.Equal(string.Empty, output);
        string line = Assert.Single(error.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith($"costaware: {path}:3: {field}: ", line, StringComparison.Ordinal);
        Assert.Contains(problem, line, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AMissingFileOrABadOption_IsAClearErrorAndANonZeroExit()
    {
        (int exit, _, string error) = await RunAsync("report", "--ledger", Path.Combine(_dir, "nope.db"));
        Assert.Equal(2, exit);
        Assert.Contains("nope.db: no such file", error, StringComparison.Ordinal);

        (exit, _, error) = await RunAsync("report", "--ledger", await ExportAsync("l.jsonl"), "--time-zone", "Mars/Olympus");
        Assert.Equal(2, exit);
        Assert.Contains("--time-zone", error, StringComparison.Ordinal);

        (exit, _, error) = await RunAsync("report", "--ledgr", "x");
        Assert.NotEqual(0, exit);
        Assert.Contains("--ledgr", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Prices_ShowTheCatalog_AndItsDifferencesAgainstAPriceFile()
    {
        (int exit, string output, string error) = await RunAsync("prices", "gpt-4o", "--json");
        Assert.True(exit == 0, error);
        using (JsonDocument rows = JsonDocument.Parse(output))
        {
            JsonElement gpt4o = Assert.Single(rows.RootElement.EnumerateArray());
            Assert.Equal(2.5m, gpt4o.GetProperty("input").GetDecimal());
            Assert.Equal(10m, gpt4o.GetProperty("output").GetDecimal());
        }

        // A LiteLLM-shaped file where gpt-4o costs more (USD per token).
        string file = Path.Combine(_dir, "litellm.json");
        await File.WriteAllTextAsync(file, """{ "gpt-4o": { "litellm_provider": "openai", "mode": "chat", "input_cost_per_token": 0.000003, "output_cost_per_token": 0.00001 } }""");
        (exit, output, error) = await RunAsync("prices", "gpt-4o", "gpt-4o-mini", "--diff", file, "--json");
        Assert.True(exit == 0, error);
        using JsonDocument diff = JsonDocument.Parse(output);
        Assert.StartsWith("file: input 3", diff.RootElement.EnumerateArray().Single(static r => r.GetProperty("model").GetString() == "gpt-4o").GetProperty("difference").GetString(), StringComparison.Ordinal);
        Assert.Equal("not in the file", diff.RootElement.EnumerateArray().Single(static r => r.GetProperty("model").GetString() == "gpt-4o-mini").GetProperty("difference").GetString());

        (exit, _, error) = await RunAsync("prices", "no-such-model");
        Assert.Equal(2, exit);
        Assert.Contains("no-such-model", error, StringComparison.Ordinal);
    }

    internal static string Chromium() => new[] { "/usr/bin/chromium", "/usr/bin/chromium-browser" }.FirstOrDefault(File.Exists)
        ?? throw new InvalidOperationException("Chromium is not installed: ./build.sh test installs Debian's chromium package.");

    // The HTML report opened in a real headless Chromium (Debian's package, which ./build.sh test installs).
    [Fact]
    public async Task TheHtmlReport_OpensOffline_InARealBrowser_WithItsTablesAndCharts()
    {
        string path = await ExportAsync("ledger.jsonl");
        string html = Path.Combine(_dir, "report.html");
        (int exit, _, string error) = await RunAsync("report", "--ledger", path, "--html", html);
        Assert.True(exit == 0, error);

        string chromium = Chromium();
        using IPlaywright playwright = await Playwright.CreateAsync();
        await using IBrowser browser = await playwright.Chromium.LaunchAsync(new() { ExecutablePath = chromium, Headless = true, Args = ["--no-sandbox"] });
        IPage page = await browser.NewPageAsync(new() { JavaScriptEnabled = false });
        List<string> requests = [];
        page.Request += (_, request) => requests.Add(request.Url);
        _ = await page.GotoAsync(new Uri(html).AbsoluteUri);

        Assert.Equal("$0.02055", (await page.Locator("#totals td").First.InnerTextAsync()).Trim());
        Assert.Equal(3, await page.Locator("#by-model tr").CountAsync()); // header + gpt-4o + gpt-4o-mini
        Assert.Equal(2, await page.Locator("#chart-days rect.bar").CountAsync());
        Assert.Equal(2, await page.Locator("#chart-scope rect.bar").CountAsync());
        Assert.True(await page.Locator("#chart-savings rect.bar").CountAsync() >= 2);
        LocatorBoundingBoxResult? bar = await page.Locator("#chart-scope rect.bar").First.BoundingBoxAsync();
        Assert.True(bar is { Width: > 10 });
        Assert.All(requests, static url => Assert.StartsWith("file:", url, StringComparison.Ordinal));

        string? screenshot = Environment.GetEnvironmentVariable("COSTAWARE_REPORT_SCREENSHOT");
        if (!string.IsNullOrEmpty(screenshot))
        {
            _ = await page.ScreenshotAsync(new() { Path = screenshot, FullPage = true });
        }
    }
}

using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using CostAware;
using CostAware.Cli;
using Spectre.Console;

// costaware: see the spend in a CostAware ledger, and the price catalog. Exit codes: 0 done, 1 a zombie agent was
// found (report), 2 bad input (one line naming the file, line and field).
RootCommand root = new("CostAware: what your LLM calls cost, from the ledger CostAware writes.");
root.Subcommands.Add(ReportCommand());
root.Subcommands.Add(PricesCommand());
root.Subcommands.Add(SimulateCommand());
root.Subcommands.Add(BreakevenCommand());
return await root.Parse(args).InvokeAsync();

// Bad input is one line on standard error naming the file, line and field, and exit code 2 (not a stack trace).
static Func<ParseResult, CancellationToken, Task<int>> Guarded(Func<ParseResult, CancellationToken, Task<int>> action) => async (parse, cancellationToken) =>
{
    try
    {
        return await action(parse, cancellationToken);
    }
    catch (CliException ex)
    {
        await Console.Error.WriteLineAsync("costaware: " + ex.Message);
        return 2;
    }
};

static Command ReportCommand()
{
    Option<string> ledger = new("--ledger") { Description = "A SQLite ledger file, a PostgreSQL connection string (Host=…; add |schema for another schema than costaware), or a .csv / .jsonl export (CostLedgerExport).", Required = true };
    Option<DateTimeOffset?> from = new("--from") { Description = "Only entries at or after this moment (ISO 8601)." };
    Option<DateTimeOffset?> to = new("--to") { Description = "Only entries before this moment (ISO 8601)." };
    Option<string> zone = new("--time-zone") { Description = "The time zone whose days the report counts (IANA id).", DefaultValueFactory = _ => "UTC" };
    Option<CostScopeDimension> groupBy = new("--group-by") { Description = "The scope dimension spend is broken down by.", DefaultValueFactory = _ => CostScopeDimension.Tenant };
    Option<int> top = new("--top") { Description = "How many top spenders to list.", DefaultValueFactory = _ => 10 };
    Option<string[]> values = new("--value") { Description = "What one completed task of an agent is worth, as agent=dollars (* for every agent); an agent that costs more per task is flagged as a zombie.", AllowMultipleArgumentsPerToken = true };
    Option<bool> json = new("--json") { Description = "Write the report as JSON to standard output." };
    Option<FileInfo?> html = new("--html") { Description = "Also write the report as one self-contained HTML file with charts." };
    Command report = new("report", "Spend by model, scope and day; top spenders; cache and batch savings; agents that cost more than their tasks are worth.")
    {
        ledger, from, to, zone, groupBy, top, values, json, html,
    };
    report.SetAction(Guarded(async (parse, cancellationToken) =>
    {
        if (parse.GetValue(top) < 1)
        {
            throw new CliException("--top must be at least 1");
        }

        TimeZoneInfo timeZone = FindZone(parse.GetValue(zone)!);
        Dictionary<string, decimal> worth = ParseValues(parse.GetValue(values) ?? []);
        await using LedgerSource source = await LedgerSource.OpenAsync(parse.GetValue(ledger)!, cancellationToken);
        CostLedgerQuery filter = new() { From = parse.GetValue(from), To = parse.GetValue(to) };
        SpendReport result = await SpendReport.BuildAsync(source, filter, parse.GetValue(groupBy), timeZone, parse.GetValue(top), worth, cancellationToken);
        if (parse.GetValue(json))
        {
            await Console.Out.WriteLineAsync(JsonSerializer.Serialize(result, ReportRendering.Json));
        }
        else
        {
            ReportRendering.Terminal(result, AnsiConsole.Console);
        }

        if (parse.GetValue(html) is { } file)
        {
            await File.WriteAllTextAsync(file.FullName, ReportRendering.Html(result), cancellationToken);
            if (!parse.GetValue(json))
            {
                AnsiConsole.MarkupLine($"HTML report: {Markup.Escape(file.FullName)}");
            }
        }

        return result.Agents.Any(static a => a.Zombie) ? 1 : 0;
    }));
    return report;
}

static Command PricesCommand()
{
    Argument<string[]> models = new("model") { Description = "Models to show (all when none).", Arity = ArgumentArity.ZeroOrMore };
    Option<FileInfo?> diff = new("--diff") { Description = "A price file to compare with: LiteLLM's model_prices_and_context_window.json, or a CostAware price file." };
    Option<bool> json = new("--json") { Description = "Write the table as JSON to standard output." };
    Command prices = new("prices", "The built-in price catalog (USD per million tokens), and its differences against a price file.") { models, diff, json };
    prices.SetAction(Guarded(async (parse, cancellationToken) =>
    {
        string[] wanted = parse.GetValue(models) ?? [];
        IReadOnlyList<ModelPrice> catalog = [.. PriceCatalog.BuiltIn.Models.Where(m => wanted.Length == 0 || wanted.Any(w => Matches(m, w))).OrderBy(static m => m.Provider, StringComparer.Ordinal).ThenBy(static m => m.ModelId, StringComparer.Ordinal)];
        foreach (string w in wanted.Where(w => !PriceCatalog.BuiltIn.Models.Any(m => Matches(m, w))))
        {
            throw new CliException($"model '{w}' is not in the price catalog");
        }

        List<PriceRow> rows = [.. catalog.Select(static m => new PriceRow(m.ModelId, m.Provider, m.Standard.Input, m.Standard.EffectiveCachedInput, m.Standard.Output, m.Batch?.Input, m.Batch?.Output, m.EffectiveDate, null))];
        if (parse.GetValue(diff) is { } file)
        {
            rows = Diff(catalog, file);
        }

        if (parse.GetValue(json))
        {
            await Console.Out.WriteLineAsync(JsonSerializer.Serialize(rows, ReportRendering.Json));
            return 0;
        }

        Table table = new Table().AddColumns("model", "provider", "input", "cached input", "output", "batch input", "batch output", "as of", parse.GetValue(diff) is null ? string.Empty : "difference");
        foreach (PriceRow r in rows)
        {
            table.AddRow(Markup.Escape(r.Model), Markup.Escape(r.Provider), D(r.Input), D(r.CachedInput), D(r.Output), D(r.BatchInput), D(r.BatchOutput), r.AsOf?.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture) ?? string.Empty, Markup.Escape(r.Difference ?? string.Empty));
        }

        AnsiConsole.Write(table);
        return 0;
    }));
    return prices;

    static string D(decimal? value) => value is { } v ? ReportRendering.Plain(v) : string.Empty;
}

static Command SimulateCommand()
{
    Option<FileInfo> trace = new("--trace") { Description = "The workload: the Azure LLM inference trace (TIMESTAMP, ContextTokens, GeneratedTokens), recorded answers as RouteLLM publishes them (prompt, <model>, <model>_response, …), or JSON lines with prompt (and optionally answer, answers by model, model, tenant, timestamp, inputTokens, outputTokens, deferrable).", Required = true };
    Option<FileInfo> pipeline = new("--pipeline") { Description = "The pipeline: { \"Simulation\": { \"Model\": …, \"Stages\": [\"Budget\", \"PromptCache\", \"SemanticCache\", \"BatchDeferral\", \"Cascade\"], \"DeferrableShare\": 0.3, \"CascadeScorer\": \"Structural\" }, \"CostAware\": { CostAware's options } }.", Required = true };
    Option<FileInfo?> questions = new("--questions") { Description = "For a trace without text: the QQP benchmark file (similiar_qqp_full.json.gz) whose duplicate groups the requests ask from." };
    Option<int> seed = new("--seed") { Description = "The seed that draws the questions.", DefaultValueFactory = _ => 1 };
    Option<int?> limit = new("--limit") { Description = "Replay only the first N requests." };
    Option<bool> json = new("--json") { Description = "Write the result as JSON to standard output." };
    Command command = new("simulate", "Replay a workload through CostAware's real stages and report the cost without and with them, by stage.")
    {
        trace, pipeline, questions, seed, limit, json,
    };
    command.SetAction(Guarded(async (parse, cancellationToken) =>
    {
        (string model, string[] stages, Microsoft.Extensions.Configuration.IConfiguration configuration) = Simulation.ReadPipeline(parse.GetValue(pipeline)!.FullName);
        string file = parse.GetValue(trace)!.FullName;
        List<Simulation.Request> requests = await Simulation.ReadTraceAsync(file, cancellationToken);
        if (parse.GetValue(limit) is { } n)
        {
            if (n < 1)
            {
                throw new CliException("--limit must be at least 1");
            }

            requests = requests[..Math.Min(n, requests.Count)];
        }

        string prompts = await Simulation.AssignPromptsAsync(requests, parse.GetValue(questions)?.FullName, parse.GetValue(seed), cancellationToken);
        Simulation.MarkDeferrable(requests, configuration, parse.GetValue(seed));
        Simulation.Result result;
        if (parse.GetValue(json) || !AnsiConsole.Profile.Capabilities.Interactive)
        {
            result = await Simulation.RunAsync(Path.GetFileName(file), requests, prompts, model, stages, configuration, progress: null, cancellationToken);
        }
        else
        {
            Simulation.Result? done = null;
            await AnsiConsole.Progress().StartAsync(async context =>
            {
                ProgressTask task = context.AddTask("replaying", maxValue: requests.Count);
                done = await Simulation.RunAsync(Path.GetFileName(file), requests, prompts, model, stages, configuration, i => task.Value = i, cancellationToken);
            });
            result = done!;
        }

        if (parse.GetValue(json))
        {
            await Console.Out.WriteLineAsync(JsonSerializer.Serialize(result, ReportRendering.Json));
            return 0;
        }

        AnsiConsole.MarkupLine($"[bold]{Markup.Escape(result.Trace)}[/]: {result.Requests:N0} requests through {Markup.Escape(string.Join(" → ", result.Stages))}, priced as {Markup.Escape(result.Model)}; prompts {Markup.Escape(result.Prompts)}");
        Table totals = new Table().AddColumns("without CostAware", "with CostAware", "saved", "provider calls", "refused by budgets");
        totals.AddRow(ReportRendering.Money(result.CostWithout), ReportRendering.Money(result.CostWith), $"{ReportRendering.Money(result.Saved)} ({result.SavedShare:P1})", result.ProviderCalls.ToString("N0", CultureInfo.InvariantCulture), result.Refused.ToString("N0", CultureInfo.InvariantCulture));
        AnsiConsole.Write(totals);
        Table byStage = new Table { Title = new TableTitle("By stage") }.AddColumns("stage", "answers", "saved");
        foreach (Simulation.StageSaving stage in result.ByStage)
        {
            byStage.AddRow(Markup.Escape(stage.Stage), stage.Answers.ToString("N0", CultureInfo.InvariantCulture), ReportRendering.Money(stage.Saved));
        }

        AnsiConsole.Write(byStage);
        if (result.Quality is { } quality)
        {
            AnsiConsole.MarkupLine(
                $"Right answers, as the trace judges them ({quality.Judged:N0} requests): [bold]{quality.ShareWithout:P1}[/] without CostAware, [bold]{quality.ShareWith:P1}[/] with it"
                + (quality.NotJudged > 0 ? $"; {quality.NotJudged:N0} served answers were another prompt's (cache hits) and are not judged" : string.Empty));
        }

        return 0;
    }));
    return command;
}

static Command BreakevenCommand()
{
    Option<string> model = new("--model") { Description = "The API model the workload would use (its catalog price).", Required = true };
    Option<long?> input = new("--input-tokens-per-month") { Description = "Prompt tokens a month (or give --trace)." };
    Option<long?> output = new("--output-tokens-per-month") { Description = "Answer tokens a month (or give --trace)." };
    Option<FileInfo?> trace = new("--trace") { Description = "A trace of real requests (TIMESTAMP, ContextTokens, GeneratedTokens: the Azure LLM inference trace) scaled to a month." };
    Option<double> scale = new("--scale") { Description = "Multiplies the trace's monthly tokens (a bigger service than the trace's).", DefaultValueFactory = _ => 1d };
    Option<double> growth = new("--growth") { Description = "Monthly growth of the volume (0.05 = 5 % a month).", DefaultValueFactory = _ => 0d };
    Option<double> promptRate = new("--prompt-tokens-per-second") { Description = "Prompt tokens one GPU reads per second, measured (OnnxChatClient.Throughput.PromptTokensPerSecond).", Required = true };
    Option<double> outputRate = new("--output-tokens-per-second") { Description = "Answer tokens one GPU writes per second, measured (OnnxChatClient.Throughput.OutputTokensPerSecond), at the batch size you will run.", Required = true };
    Option<double> utilization = new("--utilization") { Description = "The share of hours a GPU is busy (traffic is not flat).", DefaultValueFactory = _ => 0.5d };
    Option<decimal> rent = new("--rent-per-gpu-hour") { Description = "What renting one GPU costs an hour (USD).", Required = true };
    Option<decimal> buy = new("--buy-per-gpu") { Description = "What buying one GPU's share of a server costs (USD).", Required = true };
    Option<decimal> own = new("--own-per-gpu-month") { Description = "Power, hosting and upkeep of one owned GPU a month (USD).", DefaultValueFactory = _ => 0m };
    Option<int> months = new("--months") { Description = "How many months to plan.", DefaultValueFactory = _ => 36 };
    Option<bool> json = new("--json") { Description = "Write the plan as JSON to standard output." };
    Option<FileInfo?> html = new("--html") { Description = "Also write the plan as one self-contained HTML file with a chart." };
    Command command = new("breakeven", "API against rented and owned hardware, month by month, with the month each pays back.")
    {
        model, input, output, trace, scale, growth, promptRate, outputRate, utilization, rent, buy, own, months, json, html,
    };
    command.SetAction(Guarded(async (parse, cancellationToken) =>
    {
        string name = parse.GetValue(model)!;
        ModelPrice price = PriceCatalog.BuiltIn.Models.FirstOrDefault(m => Matches(m, name)) ?? throw new CliException($"--model: '{name}' is not in the price catalog (costaware prices lists it)");
        (long inTokens, long outTokens) = parse.GetValue(trace) is { } file
            ? await Breakeven.FromTraceAsync(file.FullName, cancellationToken)
            : (parse.GetValue(input) ?? throw new CliException("--input-tokens-per-month or --trace is required"), parse.GetValue(output) ?? throw new CliException("--output-tokens-per-month or --trace is required"));
        double factor = parse.GetValue(scale);
        Require(factor > 0, "--scale must be more than 0");
        Require(inTokens >= 0 && outTokens >= 0, "token counts cannot be negative");
        Require(parse.GetValue(promptRate) > 0 && parse.GetValue(outputRate) > 0, "--prompt-tokens-per-second and --output-tokens-per-second must be more than 0");
        Require(parse.GetValue(utilization) is > 0 and <= 1, "--utilization must be more than 0 and at most 1");
        Require(parse.GetValue(growth) > -1, "--growth must be more than -1");
        Require(parse.GetValue(rent) >= 0 && parse.GetValue(buy) >= 0 && parse.GetValue(own) >= 0, "money cannot be negative");
        Require(parse.GetValue(months) is >= 1 and <= 240, "--months must be 1 to 240");
        Breakeven result = Breakeven.Compute(new Breakeven.Inputs(
            price, (long)Math.Round(inTokens * factor), (long)Math.Round(outTokens * factor), parse.GetValue(growth), parse.GetValue(promptRate), parse.GetValue(outputRate),
            parse.GetValue(utilization), parse.GetValue(rent), parse.GetValue(buy), parse.GetValue(own), parse.GetValue(months)));
        if (parse.GetValue(json))
        {
            await Console.Out.WriteLineAsync(JsonSerializer.Serialize(result, ReportRendering.Json));
        }
        else
        {
            BreakevenRendering.Terminal(result, AnsiConsole.Console);
        }

        if (parse.GetValue(html) is { } page)
        {
            await File.WriteAllTextAsync(page.FullName, BreakevenRendering.Html(result), cancellationToken);
        }

        return 0;
    }));
    return command;

    static void Require(bool condition, string problem)
    {
        if (!condition)
        {
            throw new CliException(problem);
        }
    }
}

static bool Matches(ModelPrice model, string name) =>
    string.Equals(model.ModelId, name, StringComparison.OrdinalIgnoreCase) || model.Aliases.Contains(name, StringComparer.OrdinalIgnoreCase);

static List<PriceRow> Diff(IReadOnlyList<ModelPrice> catalog, FileInfo file)
{
    if (!file.Exists)
    {
        throw new CliException($"{file.FullName}: no such file (--diff)");
    }

    IReadOnlyList<ModelPrice> other;
    try
    {
        // A CostAware price file has a top-level "Prices" object; anything else is read as LiteLLM's table.
        using (JsonDocument probe = JsonDocument.Parse(File.ReadAllText(file.FullName)))
        {
            other = probe.RootElement.ValueKind == JsonValueKind.Object && probe.RootElement.TryGetProperty("Prices", out _)
                ? PriceCatalogLoader.LoadJson(file.FullName)
                : PriceCatalogLoader.LoadLiteLlm(file.FullName);
        }
    }
    catch (Exception ex) when (ex is JsonException or PriceCatalogException or InvalidDataException or FormatException)
    {
        throw new CliException($"{file.FullName}: {ex.Message}");
    }

    Dictionary<string, ModelPrice> theirs = new(StringComparer.OrdinalIgnoreCase);
    foreach (ModelPrice price in other)
    {
        theirs.TryAdd(price.ModelId, price);
    }

    List<PriceRow> rows = [];
    foreach (ModelPrice ours in catalog)
    {
        ModelPrice? match = theirs.GetValueOrDefault(ours.ModelId) ?? ours.Aliases.Select(a => theirs.GetValueOrDefault(a)).FirstOrDefault(static m => m is not null);
        string difference = match is null ? "not in the file"
            : match.Standard.Input == ours.Standard.Input && match.Standard.Output == ours.Standard.Output && match.Standard.EffectiveCachedInput == ours.Standard.EffectiveCachedInput ? "same"
            : $"file: input {ReportRendering.Plain(match.Standard.Input)}, cached {ReportRendering.Plain(match.Standard.EffectiveCachedInput)}, output {ReportRendering.Plain(match.Standard.Output)}";
        rows.Add(new PriceRow(ours.ModelId, ours.Provider, ours.Standard.Input, ours.Standard.EffectiveCachedInput, ours.Standard.Output, ours.Batch?.Input, ours.Batch?.Output, ours.EffectiveDate, difference));
    }

    return rows;
}

static TimeZoneInfo FindZone(string id)
{
    try
    {
        return TimeZoneInfo.FindSystemTimeZoneById(id);
    }
    catch (Exception ex) when (ex is TimeZoneNotFoundException or InvalidTimeZoneException)
    {
        throw new CliException($"--time-zone: '{id}' is not a time zone (for example Europe/Paris)");
    }
}

static Dictionary<string, decimal> ParseValues(string[] values)
{
    Dictionary<string, decimal> worth = new(StringComparer.Ordinal);
    foreach (string value in values)
    {
        int eq = value.LastIndexOf('=');
        if (eq <= 0 || !decimal.TryParse(value.AsSpan(eq + 1), NumberStyles.Number, CultureInfo.InvariantCulture, out decimal dollars) || dollars < 0)
        {
            throw new CliException($"--value: '{value}' is not agent=dollars (for example triage=0.50)");
        }

        worth[value[..eq]] = dollars;
    }

    return worth;
}

internal sealed record class PriceRow(string Model, string Provider, decimal Input, decimal CachedInput, decimal Output, decimal? BatchInput, decimal? BatchOutput, DateOnly? AsOf, string? Difference);

using System.Formats.Tar;
using System.Globalization;
using System.IO.Compression;
using System.Text.Json;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace CostAware.Cli;

// `costaware simulate`: a recorded workload replayed through CostAware's real stages (metering, the exact prompt cache,
// the semantic cache with the real MiniLM embedder, budgets, batch deferral with its scheduler, the model cascade with a
// real scorer over every tier's recorded answer) against a replay backend that answers with the trace's tokens, on a
// clock that follows the trace's timestamps; the cost without and with CostAware, by stage, and — where the trace says
// which recorded answers are right — the share of right answers without and with it.
internal static class Simulation
{
    public static readonly string[] KnownStages = ["Budget", "PromptCache", "SemanticCache", "BatchDeferral", "Cascade"];

    // Where a request travels on its options, for the replay batch API.
    public const string RequestKey = "costaware.simulation.request";

    internal sealed record class Request(DateTimeOffset At, string Prompt, string? Answer, string? Model, string? Tenant, long? InputTokens, long? OutputTokens, bool Deferrable = false)
    {
        // Every model's recorded answer to the prompt (the cascade's tiers answer from these), by model id.
        public IReadOnlyDictionary<string, RecordedAnswer>? Answers { get; init; }

        // Where the request is in its file (the first line of a record), for errors found after reading.
        public long Line { get; init; }
    }

    // One model's recorded answer: its text, its tokens when known, and whether it is right when the trace says.
    internal sealed record class RecordedAnswer(string Text, long? OutputTokens, bool? Correct);

    // What a replayed request is answered with by the given model: its recorded answer when the trace has one for that
    // model, else the request's answer; usage only when both token counts are known.
    public static (string Text, long? Input, long? Output) Reply(Request request, string? modelId)
    {
        if (request.Answers is { } answers && modelId is not null && answers.TryGetValue(modelId, out RecordedAnswer? recorded))
        {
            return (recorded.Text, request.InputTokens, recorded.OutputTokens);
        }

        return (request.Answer ?? "Answer to: " + request.Prompt, request.InputTokens, request.OutputTokens);
    }

    internal sealed record class Result
    {
        public required string Trace { get; init; }

        public required string Model { get; init; }

        public required IReadOnlyList<string> Stages { get; init; }

        public required long Requests { get; init; }

        public required long ProviderCalls { get; init; }

        public required long Refused { get; init; }

        public required decimal CostWithout { get; init; }

        public required decimal CostWith { get; init; }

        public required decimal Saved { get; init; }

        public required double SavedShare { get; init; }

        public required IReadOnlyList<StageSaving> ByStage { get; init; }

        public required string Prompts { get; init; }

        public Quality? Quality { get; init; }
    }

    internal sealed record class StageSaving(string Stage, long Answers, decimal Saved);

    // Right answers without and with CostAware, over the requests whose served answer the trace judges: the model's own
    // recorded answer without CostAware; with it, the recorded answer served (a cache hit with another prompt's answer
    // is not judged, and counted apart).
    internal sealed record class Quality(long Judged, long RightWithout, long RightWith, long NotJudged)
    {
        public double ShareWithout => Judged == 0 ? 0d : (double)RightWithout / Judged;

        public double ShareWith => Judged == 0 ? 0d : (double)RightWith / Judged;
    }

    // The pipeline file: { "Simulation": { "Model": "gpt-4o-mini", "Stages": [ "Budget", "PromptCache", "SemanticCache" ] },
    // "CostAware": { CostAware's own options: Budget, PromptCache, SemanticCache, … } }. Stages run outermost first, and
    // metering is always innermost.
    public static (string Model, string[] Stages, IConfiguration Configuration) ReadPipeline(string file)
    {
        if (!File.Exists(file))
        {
            throw new CliException($"{file}: no such file (--pipeline)");
        }

        IConfiguration configuration;
        try
        {
            configuration = new ConfigurationBuilder().AddJsonFile(Path.GetFullPath(file), optional: false).Build();
        }
        catch (Exception ex) when (ex is InvalidDataException or FormatException or JsonException)
        {
            throw new CliException($"{file}: not a JSON pipeline file ({ex.Message})");
        }

        IConfigurationSection simulation = configuration.GetSection("Simulation");
        string model = simulation["Model"] ?? throw new CliException($"{file}: Simulation:Model: missing (the model the workload is priced at)");
        string[] stages = [.. simulation.GetSection("Stages").GetChildren().Select(static c => c.Value ?? string.Empty)];
        foreach (string stage in stages)
        {
            if (!KnownStages.Contains(stage, StringComparer.Ordinal))
            {
                throw new CliException($"{file}: Simulation:Stages: '{stage}' is not one of {string.Join(", ", KnownStages)} (metering always runs, innermost)");
            }
        }

        foreach (IConfigurationSection key in simulation.GetChildren())
        {
            if (key.Key is not ("Model" or "Stages" or "DeferrableShare" or "CascadeScorer" or "LearnedScorer"))
            {
                throw new CliException($"{file}: Simulation:{key.Key}: unknown setting (Model, Stages, DeferrableShare, CascadeScorer, LearnedScorer)");
            }
        }

        if (simulation["DeferrableShare"] is { } share
            && (!double.TryParse(share, NumberStyles.Float, CultureInfo.InvariantCulture, out double value) || value is < 0 or > 1))
        {
            throw new CliException($"{file}: Simulation:DeferrableShare: '{share}' is not a share from 0 to 1");
        }

        string scorer = simulation["CascadeScorer"] ?? "Structural";
        if (scorer is not ("Structural" or "Learned"))
        {
            throw new CliException($"{file}: Simulation:CascadeScorer: '{scorer}' is not Structural or Learned");
        }

        if (scorer == "Learned")
        {
            string learned = simulation["LearnedScorer"] is { Length: > 0 } path
                ? Path.GetFullPath(path, Path.GetDirectoryName(Path.GetFullPath(file))!)
                : throw new CliException($"{file}: Simulation:LearnedScorer: missing (the file LearnedAnswerScorer.Save wrote; CascadeScorer is Learned)");
            configuration["Simulation:LearnedScorer"] = File.Exists(learned) ? learned : throw new CliException($"{file}: Simulation:LearnedScorer: {learned}: no such file");
        }

        if (stages.Contains("Cascade") && !configuration.GetSection("CostAware:Cascade:Tiers").GetChildren().Any())
        {
            throw new CliException($"{file}: CostAware:Cascade:Tiers: missing (the Cascade stage needs its tiers, cheapest first)");
        }

        return (model, stages, configuration);
    }

    // Marks the share of requests (seeded) that can wait for a batch API, on top of those the trace marks itself.
    public static void MarkDeferrable(List<Request> trace, IConfiguration configuration, int seed)
    {
        double share = double.TryParse(configuration["Simulation:DeferrableShare"], NumberStyles.Float, CultureInfo.InvariantCulture, out double v) ? v : 0d;
        Random random = new(seed + 7919);
        for (int i = 0; i < trace.Count; i++)
        {
            if (!trace[i].Deferrable && random.NextDouble() < share)
            {
                trace[i] = trace[i] with { Deferrable = true };
            }
        }
    }

    public static async Task<Result> RunAsync(
        string traceName, IReadOnlyList<Request> trace, string promptsNote, string model, string[] stages, IConfiguration configuration,
        Action<int>? progress, CancellationToken cancellationToken)
    {
        ReplayClock clock = new(trace.Count > 0 ? trace[0].At : DateTimeOffset.UnixEpoch);
        string queuePath = Path.Combine(Path.GetTempPath(), $"costaware-simulate-{Guid.NewGuid():N}.db");
        ServiceCollection services = new();
        services.AddSingleton<TimeProvider>(clock);
        services.AddLogging(static b => b.SetMinimumLevel(LogLevel.Warning).AddFilter("CostAware", LogLevel.Error));
        try
        {
            services.AddCostAware(configuration.GetSection("CostAware"));
            if (stages.Contains("SemanticCache") || configuration["Simulation:CascadeScorer"] == "Learned")
            {
                services.AddCostAwareSemanticCache(configuration.GetSection("CostAware:SemanticCache"));
                services.AddCostAwareMiniLMEmbeddingGenerator();
            }

            if (stages.Contains("BatchDeferral"))
            {
                // The real stage and scheduler, on a queue file of the run's own, submitting as soon as calls arrive
                // (the replay batch API answers at once; the money is the batch price either way).
                services.AddCostAwareBatching(configuration.GetSection("CostAware:Batching"), o =>
                {
                    o.QueuePath = queuePath;
                    o.MaxWait = TimeSpan.Zero;
                    o.MaxWaitAlone = TimeSpan.Zero;
                    o.PollInterval = TimeSpan.FromMilliseconds(10);
                    o.MaxPollInterval = TimeSpan.FromMilliseconds(50);
                });
                services.AddSingleton<IBatchProvider>(sp => new ReplayBatchProvider(
                    PriceOf(sp.GetRequiredService<IPriceCatalog>(), model).Provider));
            }
        }
        catch (Exception ex) when (ex is InvalidOperationException or Microsoft.Extensions.Options.OptionsValidationException)
        {
            throw new CliException("--pipeline: " + ex.Message);
        }

        ReplayBackend backend = new(model);
        ServiceProvider provider = services.BuildServiceProvider();
        ChatClientBuilder builder = new(backend);
        foreach (string stage in stages)
        {
            builder = stage switch
            {
                "Budget" => builder.UseBudget(),
                "PromptCache" => builder.UsePromptCache(),
                "BatchDeferral" => builder.UseBatchDeferral(),
                "Cascade" => builder.UseModelCascade(o => o.Scorers = [CascadeScorer(configuration, provider)]),
                _ => builder.UseSemanticCache(),
            };
        }

        IChatClient chat;
        try
        {
            chat = builder.UseTokenMetering().Build(provider);
        }
        catch (Microsoft.Extensions.Options.OptionsValidationException ex)
        {
            throw new CliException("--pipeline: " + ex.Message);
        }

        IPriceCatalog catalog = provider.GetRequiredService<IPriceCatalog>();
        ITokenEstimator estimator = provider.GetRequiredService<ITokenEstimator>();
        IList<CascadeTier> tiers = provider.GetRequiredService<Microsoft.Extensions.Options.IOptions<CostAwareOptions>>().Value.Cascade.Tiers;
        if (stages.Contains("Cascade"))
        {
            CheckRecordedAnswers(traceName, trace, model, tiers);
        }

        List<Microsoft.Extensions.Hosting.IHostedService> hosted = [.. provider.GetServices<Microsoft.Extensions.Hosting.IHostedService>()];
        foreach (Microsoft.Extensions.Hosting.IHostedService service in hosted)
        {
            await service.StartAsync(cancellationToken);
        }

        decimal without = 0m, with = 0m;
        long calls = 0, refused = 0, judged = 0, rightWithout = 0, rightWith = 0, notJudged = 0;
        Dictionary<string, (long Answers, decimal Saved)> byStage = new(StringComparer.Ordinal);
        List<Task> waiting = [];
        object sums = new();
        void Count(string stage, long answers, decimal saved)
        {
            (long soFar, decimal savedSoFar) = byStage.GetValueOrDefault(stage);
            byStage[stage] = (soFar + answers, savedSoFar + saved);
        }

        void Judge(Request request, string requestModel, string served)
        {
            if (request.Answers is not { } answers || !answers.TryGetValue(requestModel, out RecordedAnswer? own) || own.Correct is not { } ownRight)
            {
                return;
            }

            RecordedAnswer? chosen = answers.Values.FirstOrDefault(a => string.Equals(a.Text, served, StringComparison.Ordinal));
            if (chosen?.Correct is { } right)
            {
                judged++;
                rightWithout += ownRight ? 1 : 0;
                rightWith += right ? 1 : 0;
            }
            else
            {
                notJudged++;
            }
        }

        async Task ServeAsync(Request request, string requestModel, ChatOptions options, bool recorded)
        {
            try
            {
                ChatResponse response = await chat.GetResponseAsync(request.Prompt, options, cancellationToken);
                CostReceipt receipt = response.GetCostReceipt() ?? throw new InvalidOperationException("The pipeline returned no receipt.");
                lock (sums)
                {
                    with += receipt.Spent;
                    Judge(request, requestModel, response.Text);
                    if (response.GetCascadeReport() is { } report)
                    {
                        // Answers a cheaper tier served, and what the cascade saved against the strongest tier net of
                        // the cheap calls that escalated (a negative share when escalations cost more than it saved).
                        bool cheaper = report.Attempts.FirstOrDefault(static a => a.Served) is { } served && served.Tier < tiers.Count - 1;
                        Count("cascade", cheaper ? 1 : 0, report.Saved ?? 0m);
                    }

                    if (!recorded && (request.InputTokens is null || request.OutputTokens is null))
                    {
                        // A trace without token counts: what the request would have cost is the metered (estimated)
                        // tokens of its answer at the synchronous price, whoever answered it.
                        without += Unaided(catalog, requestModel, receipt);
                    }

                    foreach (CostReceiptEntry entry in receipt.Entries)
                    {
                        if (entry.Kind == CostEntryKind.ProviderCall)
                        {
                            calls++;
                            if (entry.IsBatch && entry.Cost is { } batchCost && catalog.TryGetPrice(entry.ModelId ?? requestModel, out ModelPrice? full))
                            {
                                // What the batch price saved against the same call paid synchronously.
                                Count("batch-deferral", 1, full.CalculateCost(entry.Tokens).Total - batchCost.Total);
                            }
                        }
                        else if (entry.Kind == CostEntryKind.CacheHit)
                        {
                            Count(entry.Stage ?? "cache", 1, entry.CostAvoided ?? 0m);
                        }
                    }
                }
            }
            catch (BudgetExceededException)
            {
                lock (sums)
                {
                    refused++;
                    Count("budget (refused)", 1, Baseline(catalog, requestModel, request));
                }
            }
        }

        for (int i = 0; i < trace.Count; i++)
        {
            Request request = trace[i];
            clock.MoveTo(request.At);
            string requestModel = request.Model ?? model;
            ChatOptions options = new ChatOptions { ModelId = requestModel, MaxOutputTokens = (int)Math.Clamp(request.OutputTokens ?? 1024, 1, 100_000) }
                .WithCostScope(new CostScope { Tenant = request.Tenant });
            (options.AdditionalProperties ??= [])[RequestKey] = request;
            backend.Next = request;

            // Without CostAware every request is paid at the catalog price for its own tokens (when the trace has them),
            // or — with every model's recorded answer — for the model's own answer (tokens counted where not recorded).
            bool recorded = request.Answers?.ContainsKey(requestModel) == true;
            if (recorded || (request.InputTokens is not null && request.OutputTokens is not null))
            {
                decimal baseline = recorded ? RecordedBaseline(catalog, estimator, requestModel, request) : Baseline(catalog, requestModel, request);
                lock (sums)
                {
                    without += baseline;
                }
            }

            if (request.Deferrable && stages.Contains("BatchDeferral"))
            {
                // It waits for its batch while the replay goes on, as a background job would.
                waiting.Add(ServeAsync(request, requestModel, options.WithDeferral(new Deferral { Delivery = DeferralDelivery.Await }), recorded));
            }
            else
            {
                await ServeAsync(request, requestModel, options, recorded);
            }

            progress?.Invoke(i + 1);
        }

        await Task.WhenAll(waiting);
        foreach (Microsoft.Extensions.Hosting.IHostedService service in hosted)
        {
            await service.StopAsync(CancellationToken.None);
        }

        await provider.DisposeAsync();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        foreach (string file in (string[])[queuePath, queuePath + "-wal", queuePath + "-shm"])
        {
            File.Delete(file);
        }

        return new Result
        {
            Trace = traceName,
            Model = model,
            Stages = [.. stages, "TokenMetering"],
            Requests = trace.Count,
            ProviderCalls = calls,
            Refused = refused,
            CostWithout = without,
            CostWith = with,
            Saved = without - with,
            SavedShare = without == 0m ? 0d : (double)((without - with) / without),
            ByStage = [.. byStage.OrderByDescending(static s => s.Value.Saved).Select(static s => new StageSaving(s.Key, s.Value.Answers, s.Value.Saved))],
            Prompts = promptsNote,
            Quality = judged + notJudged > 0 ? new Quality(judged, rightWithout, rightWith, notJudged) : null,
        };
    }

    private static IAnswerScorer CascadeScorer(IConfiguration configuration, IServiceProvider services)
    {
        if (configuration["Simulation:CascadeScorer"] != "Learned")
        {
            return StructuralAnswerScorer.Instance;
        }

        string file = configuration["Simulation:LearnedScorer"]!;
        using FileStream stream = File.OpenRead(file);
        try
        {
            return LearnedAnswerScorer.Load(stream, services.GetRequiredService<IEmbeddingGenerator<string, Embedding<float>>>());
        }
        catch (Exception ex) when (ex is InvalidDataException or EndOfStreamException or ArgumentException)
        {
            throw new CliException($"Simulation:LearnedScorer: {file}: not a learned scorer ({ex.Message})");
        }
    }

    // Every request must carry a recorded answer of every tier and of the priced model (what it costs without CostAware).
    private static void CheckRecordedAnswers(string traceName, IReadOnlyList<Request> trace, string model, IList<CascadeTier> tiers)
    {
        string[] needed = [.. tiers.Select(static t => t.ModelId ?? string.Empty).Append(model).Distinct(StringComparer.OrdinalIgnoreCase)];
        foreach (Request request in trace)
        {
            string requestModel = request.Model ?? model;
            foreach (string name in needed.Select(n => n == model ? requestModel : n))
            {
                if (name.Length == 0)
                {
                    throw new CliException("CostAware:Cascade:Tiers: a tier without a ModelId (the simulation answers each tier from the trace's answers of its model)");
                }

                if (request.Answers?.ContainsKey(name) != true)
                {
                    throw CliException.At(traceName, request.Line, "answers", $"no recorded answer of '{name}' (the Cascade stage needs every tier's answer and the priced model's: {string.Join(", ", needed)})");
                }
            }
        }
    }

    private static ModelPrice PriceOf(IPriceCatalog catalog, string model) =>
        catalog.TryGetPrice(model, out ModelPrice? price) ? price : throw new CliException($"model '{model}' is not in the price catalog");

    private static decimal RecordedBaseline(IPriceCatalog catalog, ITokenEstimator estimator, string model, Request request)
    {
        ModelPrice price = PriceOf(catalog, model);
        RecordedAnswer own = request.Answers![model];
        long input = request.InputTokens ?? estimator.EstimateInputTokens([new ChatMessage(ChatRole.User, request.Prompt)], null, model);
        long output = own.OutputTokens ?? estimator.CountTokens(own.Text, model);
        return price.CalculateCost(new TokenCounts { Input = input, Output = output }).Total;
    }

    private static decimal Unaided(IPriceCatalog catalog, string model, CostReceipt receipt)
    {
        ModelPrice price = PriceOf(catalog, model);
        decimal total = 0m;
        foreach (CostReceiptEntry entry in receipt.Entries)
        {
            if (entry.Kind is CostEntryKind.ProviderCall or CostEntryKind.CacheHit)
            {
                total += price.CalculateCost(entry.Tokens).Total;
            }
        }

        return total;
    }

    private static decimal Baseline(IPriceCatalog catalog, string model, Request request) =>
        PriceOf(catalog, model).CalculateCost(new TokenCounts { Input = request.InputTokens ?? 0, Output = request.OutputTokens ?? 0 }).Total;

    // --- traces -------------------------------------------------------------------------------------------------

    public static async Task<List<Request>> ReadTraceAsync(string file, CancellationToken cancellationToken)
    {
        if (!File.Exists(file))
        {
            throw new CliException($"{file}: no such file (--trace)");
        }

        List<Request> requests = [];
        using StreamReader reader = new(file);
        string? first = await reader.ReadLineAsync(cancellationToken);
        if (first is null)
        {
            throw CliException.At(file, 1, "row", "the trace is empty");
        }

        if (first.Replace(" ", string.Empty, StringComparison.Ordinal) == "TIMESTAMP,ContextTokens,GeneratedTokens")
        {
            long line = 1;
            while (await reader.ReadLineAsync(cancellationToken) is { } text)
            {
                line++;
                string[] f = text.Split(',');
                if (f.Length != 3)
                {
                    throw CliException.At(file, line, "row", $"{f.Length} fields, expected 3");
                }

                DateTime at = DateTime.TryParse(f[0], CultureInfo.InvariantCulture, DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal, out DateTime t) ? t : throw CliException.At(file, line, "TIMESTAMP", $"'{f[0]}' is not a date and time");
                long input = long.TryParse(f[1], NumberStyles.None, CultureInfo.InvariantCulture, out long i) ? i : throw CliException.At(file, line, "ContextTokens", $"'{f[1]}' is not a token count");
                long output = long.TryParse(f[2], NumberStyles.None, CultureInfo.InvariantCulture, out long o) ? o : throw CliException.At(file, line, "GeneratedTokens", $"'{f[2]}' is not a token count");
                requests.Add(new Request(new DateTimeOffset(at, TimeSpan.Zero), string.Empty, null, null, null, input, output));
            }

            return requests;
        }

        if (first.StartsWith("prompt,", StringComparison.Ordinal))
        {
            return await ReadRecordedAnswersAsync(file, first, reader, cancellationToken);
        }

        // JSON lines: { "prompt": "…", "answer"?, "answers"?, "model"?, "tenant"?, "timestamp"?, "inputTokens"?, "outputTokens"?, "deferrable"? }.
        string[] known = ["prompt", "answer", "answers", "model", "tenant", "timestamp", "inputTokens", "outputTokens", "deferrable"];
        long number = 0;
        DateTimeOffset previous = DateTimeOffset.UnixEpoch;
        for (string? text = first; text is not null; text = await reader.ReadLineAsync(cancellationToken))
        {
            number++;
            if (string.IsNullOrWhiteSpace(text))
            {
                continue;
            }

            JsonElement row;
            try
            {
                using JsonDocument document = JsonDocument.Parse(text);
                row = document.RootElement.Clone();
            }
            catch (JsonException ex)
            {
                throw CliException.At(file, number, "row", "not JSON, and not the Azure trace's CSV: " + ex.Message);
            }

            if (row.ValueKind != JsonValueKind.Object)
            {
                throw CliException.At(file, number, "row", "not a JSON object");
            }

            foreach (JsonProperty property in row.EnumerateObject())
            {
                if (!known.Contains(property.Name, StringComparer.Ordinal))
                {
                    throw CliException.At(file, number, property.Name, "unknown field (prompt, answer, answers, model, tenant, timestamp, inputTokens, outputTokens, deferrable)");
                }
            }

            string? Text(string name) => row.TryGetProperty(name, out JsonElement v) && v.ValueKind != JsonValueKind.Null
                ? v.ValueKind == JsonValueKind.String ? v.GetString() : throw CliException.At(file, number, name, "not a string")
                : null;
            long? Tokens(string name) => row.TryGetProperty(name, out JsonElement v) && v.ValueKind != JsonValueKind.Null
                ? v.TryGetInt64(out long n) && n >= 0 ? n : throw CliException.At(file, number, name, $"'{v.GetRawText()}' is not a token count")
                : null;
            string prompt = Text("prompt") is { Length: > 0 } p ? p : throw CliException.At(file, number, "prompt", "missing");
            DateTimeOffset at = Text("timestamp") is { } ts
                ? DateTimeOffset.TryParse(ts, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out DateTimeOffset parsed) ? parsed : throw CliException.At(file, number, "timestamp", $"'{ts}' is not an ISO 8601 date and time")
                : previous.AddSeconds(1);
            previous = at;
            bool deferrable = row.TryGetProperty("deferrable", out JsonElement d) && d.ValueKind switch
            {
                JsonValueKind.True => true,
                JsonValueKind.False or JsonValueKind.Null => false,
                _ => throw CliException.At(file, number, "deferrable", "not true or false"),
            };
            requests.Add(new Request(at, prompt, Text("answer"), Text("model"), Text("tenant"), Tokens("inputTokens"), Tokens("outputTokens"), deferrable)
            {
                Answers = row.TryGetProperty("answers", out JsonElement answers) && answers.ValueKind != JsonValueKind.Null ? ReadAnswers(file, number, answers) : null,
                Line = number,
            });
        }

        return requests;
    }

    // "answers": { "<model>": "text" | { "text": "…", "outputTokens"?: n, "correct"?: true } }.
    private static Dictionary<string, RecordedAnswer> ReadAnswers(string file, long line, JsonElement answers)
    {
        if (answers.ValueKind != JsonValueKind.Object)
        {
            throw CliException.At(file, line, "answers", "not an object of recorded answers by model");
        }

        Dictionary<string, RecordedAnswer> byModel = new(StringComparer.OrdinalIgnoreCase);
        foreach (JsonProperty answer in answers.EnumerateObject())
        {
            string field = "answers." + answer.Name;
            if (answer.Value.ValueKind == JsonValueKind.String)
            {
                byModel[answer.Name] = new RecordedAnswer(answer.Value.GetString()!, null, null);
                continue;
            }

            if (answer.Value.ValueKind != JsonValueKind.Object)
            {
                throw CliException.At(file, line, field, "not a text or { text, outputTokens, correct }");
            }

            string? text = null;
            long? tokens = null;
            bool? correct = null;
            foreach (JsonProperty part in answer.Value.EnumerateObject())
            {
                switch (part.Name)
                {
                    case "text" when part.Value.ValueKind == JsonValueKind.String:
                        text = part.Value.GetString();
                        break;
                    case "outputTokens" when part.Value.TryGetInt64(out long n) && n >= 0:
                        tokens = n;
                        break;
                    case "correct" when part.Value.ValueKind is JsonValueKind.True or JsonValueKind.False:
                        correct = part.Value.GetBoolean();
                        break;
                    case "text" or "outputTokens" or "correct":
                        throw CliException.At(file, line, field + "." + part.Name, $"'{part.Value.GetRawText()}' is not {(part.Name == "text" ? "a string" : part.Name == "correct" ? "true or false" : "a token count")}");
                    default:
                        throw CliException.At(file, line, field + "." + part.Name, "unknown field (text, outputTokens, correct)");
                }
            }

            byModel[answer.Name] = new RecordedAnswer(text ?? throw CliException.At(file, line, field + ".text", "missing"), tokens, correct);
        }

        return byModel;
    }

    // Recorded answers as RouteLLM publishes them (the GSM8K file in ../shared/data/cascade): a "prompt" column, and for
    // each model a column named by the model (True / False: is its answer right) and "<model>_response" (its answer).
    // Fields may span lines. No timestamps (a request a second) and no token counts (metering counts them).
    private static async Task<List<Request>> ReadRecordedAnswersAsync(string file, string header, StreamReader reader, CancellationToken cancellationToken)
    {
        string[] columns = Csv.Split(header, file, 1, formulaGuard: false);
        string[] models = [.. columns.Skip(1).Where(static c => !c.EndsWith("_response", StringComparison.Ordinal))];
        foreach (string column in columns.Skip(1))
        {
            string model = column.EndsWith("_response", StringComparison.Ordinal) ? column[..^"_response".Length] : column;
            if (!models.Contains(model, StringComparer.Ordinal) || !columns.Contains(model + "_response", StringComparer.Ordinal))
            {
                throw CliException.At(file, 1, column, "each model needs two columns: '<model>' (True/False) and '<model>_response'");
            }
        }

        if (models.Length == 0)
        {
            throw CliException.At(file, 1, "row", "no model columns (prompt, <model>, <model>_response, …)");
        }

        List<Request> requests = [];
        Csv.Ref<long> line = new(1);
        DateTimeOffset at = DateTimeOffset.UnixEpoch;
        while (await Csv.ReadRecordAsync(reader, file, line, cancellationToken) is ({ } fields, long number))
        {
            if (fields.Length == 1 && fields[0].Length == 0)
            {
                continue;
            }

            if (fields.Length != columns.Length)
            {
                throw CliException.At(file, number, "row", $"{fields.Length} fields, expected {columns.Length}");
            }

            Dictionary<string, RecordedAnswer> answers = new(StringComparer.OrdinalIgnoreCase);
            foreach (string model in models)
            {
                string label = fields[Array.IndexOf(columns, model)];
                bool? correct = label.Length == 0 ? null
                    : bool.TryParse(label, out bool right) ? right
                    : throw CliException.At(file, number, model, $"'{label}' is not True or False");
                answers[model] = new RecordedAnswer(fields[Array.IndexOf(columns, model + "_response")], null, correct);
            }

            string prompt = fields[0].Length > 0 ? fields[0] : throw CliException.At(file, number, "prompt", "missing");
            at = at.AddSeconds(1);
            requests.Add(new Request(at, prompt, null, null, null, null, null) { Answers = answers, Line = number });
        }

        return requests;
    }

    // Prompts for a trace without text (the Azure trace): each request asks a question drawn from the QQP duplicate
    // groups (the GPTCache benchmark file, a .tar.gz of one JSON array of { text_a, text_b, label }) — a group by a Zipf
    // law (s = 1, seeded: popular questions come back), then one of its two wordings — or, without a file, a text of its
    // own (nothing can be served from a cache).
    public static async Task<string> AssignPromptsAsync(List<Request> trace, string? questions, int seed, CancellationToken cancellationToken)
    {
        if (trace.All(static r => r.Prompt.Length > 0))
        {
            return "from the trace";
        }

        if (questions is null)
        {
            for (int i = 0; i < trace.Count; i++)
            {
                trace[i] = trace[i] with { Prompt = trace[i].Prompt.Length > 0 ? trace[i].Prompt : $"Request {i + 1} of the trace." };
            }

            return "none in the trace and no --questions: every request is distinct, so no cache can answer";
        }

        List<(string A, string B)> groups = await ReadDuplicateGroupsAsync(questions, cancellationToken);
        Random random = new(seed);
        double[] cumulative = new double[groups.Count];
        double sum = 0;
        for (int g = 0; g < groups.Count; g++)
        {
            sum += 1d / (g + 1);
            cumulative[g] = sum;
        }

        int[] order = [.. Enumerable.Range(0, groups.Count).OrderBy(_ => random.Next())];
        for (int i = 0; i < trace.Count; i++)
        {
            if (trace[i].Prompt.Length > 0)
            {
                continue;
            }

            int rank = Array.BinarySearch(cumulative, random.NextDouble() * sum);
            (string a, string b) = groups[order[rank < 0 ? ~rank : rank]];
            trace[i] = trace[i] with { Prompt = random.Next(2) == 0 ? a : b };
        }

        return $"drawn from {groups.Count:N0} QQP duplicate groups of {Path.GetFileName(questions)} (Zipf s = 1 over groups, seed {seed})";
    }

    private static async Task<List<(string A, string B)>> ReadDuplicateGroupsAsync(string file, CancellationToken cancellationToken)
    {
        if (!File.Exists(file))
        {
            throw new CliException($"{file}: no such file (--questions)");
        }

        await using FileStream raw = File.OpenRead(file);
        await using GZipStream gzip = new(raw, CompressionMode.Decompress);
        await using TarReader tar = new(gzip);
        while (await tar.GetNextEntryAsync(copyData: false, cancellationToken) is { } entry)
        {
            if (entry.DataStream is null || !entry.Name.EndsWith(".json", StringComparison.Ordinal))
            {
                continue;
            }

            List<(string, string)> groups = [];
            using JsonDocument document = await JsonDocument.ParseAsync(entry.DataStream, cancellationToken: cancellationToken);
            foreach (JsonElement pair in document.RootElement.EnumerateArray())
            {
                if (pair.TryGetProperty("label", out JsonElement label) && label.ValueKind == JsonValueKind.Number && label.GetInt32() == 1)
                {
                    groups.Add((pair.GetProperty("text_a").GetString()!, pair.GetProperty("text_b").GetString()!));
                }
            }

            return groups.Count > 0 ? groups : throw new CliException($"{file}: no duplicate pairs (label 1) in {entry.Name}");
        }

        throw new CliException($"{file}: not a .tar.gz holding a JSON array of {{text_a, text_b, label}} (the GPTCache QQP benchmark file)");
    }

    // The provider: answers each request as the trace says (its answer, or one per prompt), with the trace's tokens.
    private sealed class ReplayBackend(string model) : IChatClient
    {
        public Request? Next { get; set; }

        public Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
        {
            Request request = Next ?? throw new InvalidOperationException("No request to replay.");
            string modelId = options?.ModelId ?? model;
            (string text, long? input, long? output) = Reply(request, modelId);
            ChatResponse response = new(new ChatMessage(ChatRole.Assistant, text))
            {
                ModelId = modelId,
                FinishReason = ChatFinishReason.Stop,
                Usage = input is { } i && output is { } o ? new UsageDetails { InputTokenCount = i, OutputTokenCount = o } : null,
            };
            return Task.FromResult(response);
        }

        public async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken = default)
        {
            foreach (ChatResponseUpdate update in (await GetResponseAsync(messages, options, cancellationToken)).ToChatResponseUpdates())
            {
                yield return update;
            }
        }

        public object? GetService(Type serviceType, object? serviceKey = null) => serviceType == typeof(ChatClientMetadata) ? new ChatClientMetadata("replay", null, model) : null;

        public void Dispose()
        {
        }
    }

    // The trace's clock: budgets' windows and caches' lifetimes follow the recorded arrival times.
    private sealed class ReplayClock(DateTimeOffset start) : TimeProvider
    {
        private DateTimeOffset _now = start;

        public void MoveTo(DateTimeOffset moment)
        {
            if (moment > _now)
            {
                _now = moment;
            }
        }

        public override DateTimeOffset GetUtcNow() => _now;
    }
}

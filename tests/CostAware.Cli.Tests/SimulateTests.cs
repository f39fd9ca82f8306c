using System.Text.Json;

namespace CostAware.Cli.Tests;

// costaware simulate, run as a child process: small traces whose money is known exactly, and the public Azure trace.
public sealed class SimulateTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "costaware-sim-" + Guid.NewGuid().ToString("N"));

    public SimulateTests() => Directory.CreateDirectory(_dir);

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string Write(string name, string text)
    {
        string path = Path.Combine(_dir, name);
        File.WriteAllText(path, text);
        return path;
    }

    // gpt-4o-mini at $0.15 / $0.60 per million: 1,000 in and 100 out cost $0.00021 a request. Four requests, one an
    // exact repeat: $0.00084 without CostAware, $0.00063 with the prompt cache, which answered once.
    [Fact]
    public async Task ATraceWithARepeat_CostsExactlyOneCallLess_WithThePromptCache()
    {
        string trace = Write("trace.jsonl", """
            {"prompt":"How do I reset my password?","inputTokens":1000,"outputTokens":100,"timestamp":"2026-12-06T10:00:00Z"}
            {"prompt":"What is our refund policy?","inputTokens":1000,"outputTokens":100,"timestamp":"2026-12-06T10:00:01Z"}
            {"prompt":"How do I reset my password?","inputTokens":1000,"outputTokens":100,"timestamp":"2026-12-06T10:00:02Z"}
            {"prompt":"Where is my invoice?","inputTokens":1000,"outputTokens":100,"timestamp":"2026-12-06T10:00:03Z"}
            """);
        string pipeline = Write("pipeline.json", """{ "Simulation": { "Model": "gpt-4o-mini", "Stages": [ "PromptCache" ] } }""");

        (int exit, string output, string error) = await CliTests.RunAsync("simulate", "--trace", trace, "--pipeline", pipeline, "--json");

        Assert.True(exit == 0, error);
        using JsonDocument result = JsonDocument.Parse(output);
        JsonElement root = result.RootElement;
        Assert.Equal(4, root.GetProperty("requests").GetInt64());
        Assert.Equal(3, root.GetProperty("providerCalls").GetInt64());
        Assert.Equal(0.00084m, root.GetProperty("costWithout").GetDecimal());
        Assert.Equal(0.00063m, root.GetProperty("costWith").GetDecimal());
        Assert.Equal(0.00021m, root.GetProperty("saved").GetDecimal());
        JsonElement stage = Assert.Single(root.GetProperty("byStage").EnumerateArray());
        Assert.Equal("prompt-cache", stage.GetProperty("stage").GetString());
        Assert.Equal(1, stage.GetProperty("answers").GetInt64());
        Assert.Equal(0.00021m, stage.GetProperty("saved").GetDecimal());
    }

    // The deferrable request goes through the real batch-deferral stage and scheduler to the replay batch API and is
    // paid at gpt-4o-mini's batch price, half of $0.00021.
    [Fact]
    public async Task ADeferrableRequest_IsPaidAtTheBatchPrice_ThroughTheRealBatchStage()
    {
        string trace = Write("trace.jsonl", """
            {"prompt":"Summarise last night's tickets.","inputTokens":1000,"outputTokens":100,"deferrable":true}
            {"prompt":"Where is my order?","inputTokens":1000,"outputTokens":100}
            """);
        string pipeline = Write("pipeline.json", """{ "Simulation": { "Model": "gpt-4o-mini", "Stages": [ "BatchDeferral" ] } }""");

        (int exit, string output, string error) = await CliTests.RunAsync("simulate", "--trace", trace, "--pipeline", pipeline, "--json");

        Assert.True(exit == 0, error);
        using JsonDocument result = JsonDocument.Parse(output);
        Assert.Equal(0.00042m, result.RootElement.GetProperty("costWithout").GetDecimal());
        Assert.Equal(0.000315m, result.RootElement.GetProperty("costWith").GetDecimal());
        JsonElement batch = Assert.Single(result.RootElement.GetProperty("byStage").EnumerateArray());
        Assert.Equal("batch-deferral", batch.GetProperty("stage").GetString());
        Assert.Equal(1, batch.GetProperty("answers").GetInt64());
        Assert.Equal(0.000105m, batch.GetProperty("saved").GetDecimal());
    }

    // Without token counts the tokens are metered (estimated from the text): a repeat saves exactly what its first
    // answer cost, and nothing is "saved" by a request that was paid.
    [Fact]
    public async Task ATraceWithoutTokenCounts_IsPricedFromTheMeteredTokens_AndSavesExactlyTheRepeat()
    {
        string trace = Write("trace.jsonl", """
            {"prompt":"How do I reset my password?","answer":"Use the reset link on the sign-in page."}
            {"prompt":"What is our refund policy?","answer":"Refunds within 30 days."}
            {"prompt":"How do I reset my password?","answer":"Use the reset link on the sign-in page."}
            """);
        string pipeline = Write("pipeline.json", """{ "Simulation": { "Model": "gpt-4o-mini", "Stages": [ "PromptCache" ] } }""");

        (int exit, string output, string error) = await CliTests.RunAsync("simulate", "--trace", trace, "--pipeline", pipeline, "--json");

        Assert.True(exit == 0, error);
        using JsonDocument result = JsonDocument.Parse(output);
        JsonElement root = result.RootElement;
        decimal without = root.GetProperty("costWithout").GetDecimal();
        decimal with = root.GetProperty("costWith").GetDecimal();
        decimal cached = Assert.Single(root.GetProperty("byStage").EnumerateArray()).GetProperty("saved").GetDecimal();
        Assert.True(with > 0m);
        Assert.Equal(without - with, cached);
        Assert.Equal(without - with, root.GetProperty("saved").GetDecimal());
    }

    [Fact]
    public async Task ABudgetInThePipeline_RefusesWhatItWould_AndTheRefusedCostIsCountedAsNotSpent()
    {
        string trace = Write("trace.jsonl", """
            {"prompt":"First question?","tenant":"acme","inputTokens":1000,"outputTokens":100}
            {"prompt":"Second question?","tenant":"acme","inputTokens":1000,"outputTokens":100}
            {"prompt":"Third question?","tenant":"acme","inputTokens":1000,"outputTokens":100}
            {"prompt":"Another tenant's question?","tenant":"globex","inputTokens":1000,"outputTokens":100}
            """);
        string pipeline = Write("pipeline.json", """
            { "Simulation": { "Model": "gpt-4o-mini", "Stages": [ "Budget" ] },
              "CostAware": { "Budget": { "Budgets": { "one-call": { "Per": [ "Tenant" ], "Window": "Day", "MaxCalls": 1 } } } } }
            """);

        (int exit, string output, string error) = await CliTests.RunAsync("simulate", "--trace", trace, "--pipeline", pipeline, "--json");

        Assert.True(exit == 0, error);
        using JsonDocument result = JsonDocument.Parse(output);
        Assert.Equal(2, result.RootElement.GetProperty("refused").GetInt64());
        Assert.Equal(0.00042m, result.RootElement.GetProperty("costWith").GetDecimal());
        JsonElement refused = Assert.Single(result.RootElement.GetProperty("byStage").EnumerateArray());
        Assert.Equal("budget (refused)", refused.GetProperty("stage").GetString());
        Assert.Equal(0.00042m, refused.GetProperty("saved").GetDecimal());
    }

    [Theory]
    [InlineData("{\"prompt\":5}", "prompt: not a string")]
    [InlineData("{\"prompt\":\"hi\",\"colour\":\"red\"}", "colour: unknown field")]
    [InlineData("{\"prompt\":\"hi\",\"outputTokens\":-3}", "outputTokens: '-3' is not a token count")]
    public async Task AMalformedRow_IsNamedByFileLineAndField_AndNothingIsReported(string row, string problem)
    {
        string trace = Write("trace.jsonl", "{\"prompt\":\"fine\"}\n" + row + "\n");
        string pipeline = Write("pipeline.json", """{ "Simulation": { "Model": "gpt-4o-mini", "Stages": [] } }""");

        (int exit, string output, string error) = await CliTests.RunAsync("simulate", "--trace", trace, "--pipeline", pipeline, "--json");

        Assert.Equal(2, exit);
        Assert.Equal(string.Empty, output);
        Assert.Equal($"costaware: {trace}:2: {problem}", error.Trim()[..($"costaware: {trace}:2: ".Length + problem.Length)]);
    }

    [Fact]
    public async Task ABadPipeline_IsAClearError()
    {
        string trace = Write("trace.jsonl", "{\"prompt\":\"fine\"}\n");
        string pipeline = Write("pipeline.json", """{ "Simulation": { "Model": "gpt-4o-mini", "Stages": [ "Teleport" ] } }""");

        (int exit, _, string error) = await CliTests.RunAsync("simulate", "--trace", trace, "--pipeline", pipeline);

        Assert.Equal(2, exit);
        Assert.Contains("'Teleport' is not one of Budget, PromptCache, SemanticCache, BatchDeferral", error, StringComparison.Ordinal);
    }

    // The public Azure trace (real arrival times and token sizes) with questions drawn from QQP duplicate groups, through
    // the prompt cache and the semantic cache on the real MiniLM embedder.
    [Fact]
    public async Task ThePublicAzureTrace_WithQqpQuestions_RunsThroughTheRealCaches()
    {
        string data = TestFiles.SharedData();
        string pipeline = Write("pipeline.json", """
            { "Simulation": { "Model": "gpt-4o-mini", "Stages": [ "PromptCache", "SemanticCache" ] },
              "CostAware": { "SemanticCache": { "SimilarityThreshold": 0.9 } } }
            """);

        (int exit, string output, string error) = await CliTests.RunAsync(
            "simulate", "--trace", Path.Combine(data, "traces", "azure-llm-2023", "AzureLLMInferenceTrace_conv.csv"), "--pipeline", pipeline,
            "--questions", Path.Combine(data, "semantic-cache", "similiar_qqp_full.json.gz"), "--limit", "400", "--json");

        Assert.True(exit == 0, error);
        using JsonDocument result = JsonDocument.Parse(output);
        JsonElement root = result.RootElement;
        Assert.Equal(400, root.GetProperty("requests").GetInt64());
        decimal without = root.GetProperty("costWithout").GetDecimal();
        decimal with = root.GetProperty("costWith").GetDecimal();
        Assert.True(with < without);
        Assert.Equal(without - with, root.GetProperty("saved").GetDecimal());
        long answered = root.GetProperty("byStage").EnumerateArray().Sum(static s => s.GetProperty("answers").GetInt64());
        Assert.Equal(400 - root.GetProperty("providerCalls").GetInt64(), answered);
        Assert.Contains(root.GetProperty("byStage").EnumerateArray(), static s => s.GetProperty("stage").GetString() == "prompt-cache");
    }
}

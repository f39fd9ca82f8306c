using System.Text.Json;
using Microsoft.Extensions.AI;

namespace CostAware.Cli.Tests;

// costaware simulate with the Cascade stage: every tier answers from the trace's recorded answers, the real
// ModelCascadeChatClient scores and escalates, and the report gives money and — where the trace labels answers — the
// share of right answers without and with CostAware.
public sealed class SimulateCascadeTests : IDisposable
{
    private const string Mixtral = "mistralai/Mixtral-8x7B-Instruct-v0.1";
    private const string Gpt4 = "gpt-4-1106-preview";

    private readonly string _dir = Path.Combine(Path.GetTempPath(), "costaware-simcascade-" + Guid.NewGuid().ToString("N"));

    public SimulateCascadeTests() => Directory.CreateDirectory(_dir);

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static string Gsm8k => Path.Combine(TestFiles.SharedData(), "cascade", "gsm8k_responses.csv");

    private string Write(string name, string text)
    {
        string path = Path.Combine(_dir, name);
        File.WriteAllText(path, text);
        return path;
    }

    private string Gsm8kPipeline(string threshold, string extra = "") => Write("pipeline.json", $$"""
        { "Simulation": { "Model": "{{Gpt4}}", "Stages": [ "Cascade" ]{{extra}} },
          "CostAware": { "ModelAliases": { "{{Mixtral}}": "open-mixtral-8x7b" },
            "Cascade": { "Tiers": [ { "ModelId": "{{Mixtral}}", "AcceptThreshold": {{threshold}} }, { "ModelId": "{{Gpt4}}" } ] } } }
        """);

    // gpt-4o-mini $0.15/$0.60 and gpt-4o $2.50/$10 per million tokens; 1,000 prompt tokens each.
    // Without CostAware gpt-4o answers all three: 3 × ($0.0025 + 200 × $0.00001) = $0.0135.
    // With the cascade: the refusal escalates ($0.000156 + $0.0045), the other two are served by gpt-4o-mini
    // ($0.00021 each) — $0.005076, one of them wrong: 2 of 3 right against 3 of 3.
    [Fact]
    public async Task RecordedAnswers_ArePricedToTheCent_AndTheWrongCheapAnswerIsCounted()
    {
        string trace = Write("trace.jsonl", """
            {"prompt":"Capital of France?","inputTokens":1000,"answers":{"gpt-4o-mini":{"text":"Paris.","outputTokens":100,"correct":true},"gpt-4o":{"text":"Paris is the capital of France.","outputTokens":200,"correct":true}}}
            {"prompt":"Dose for a child?","inputTokens":1000,"answers":{"gpt-4o-mini":{"text":"I'm sorry, I can't help with that.","outputTokens":10,"correct":false},"gpt-4o":{"text":"Ask a pharmacist; by weight it is …","outputTokens":200,"correct":true}}}
            {"prompt":"17 + 25?","inputTokens":1000,"answers":{"gpt-4o-mini":{"text":"41","outputTokens":100,"correct":false},"gpt-4o":{"text":"42","outputTokens":200,"correct":true}}}
            """);
        string pipeline = Write("pipeline.json", """
            { "Simulation": { "Model": "gpt-4o", "Stages": [ "Cascade" ] },
              "CostAware": { "Cascade": { "Tiers": [ { "ModelId": "gpt-4o-mini", "AcceptThreshold": 0.7 }, { "ModelId": "gpt-4o" } ] } } }
            """);

        (int exit, string output, string error) = await CliTests.RunAsync("simulate", "--trace", trace, "--pipeline", pipeline, "--json");

        Assert.True(exit == 0, error);
        using JsonDocument result = JsonDocument.Parse(output);
        JsonElement root = result.RootElement;
        Assert.Equal(4, root.GetProperty("providerCalls").GetInt64());
        Assert.Equal(0.0135m, root.GetProperty("costWithout").GetDecimal());
        Assert.Equal(0.005076m, root.GetProperty("costWith").GetDecimal());
        Assert.Equal(0.008424m, root.GetProperty("saved").GetDecimal());
        JsonElement stage = Assert.Single(root.GetProperty("byStage").EnumerateArray());
        Assert.Equal("cascade", stage.GetProperty("stage").GetString());
        Assert.Equal(2, stage.GetProperty("answers").GetInt64());
        JsonElement quality = root.GetProperty("quality");
        Assert.Equal(3, quality.GetProperty("judged").GetInt64());
        Assert.Equal(3, quality.GetProperty("rightWithout").GetInt64());
        Assert.Equal(2, quality.GetProperty("rightWith").GetInt64());
    }

    // RouteLLM's recorded GSM8K answers read as published (multi-line quoted answers): 1,319 questions, GPT-4 right on
    // 1,130 and Mixtral on 842 (counted independently of the tool). A cascade that never accepts the cheap answer keeps
    // GPT-4's quality and costs exactly GPT-4's bill plus every Mixtral call; one that always accepts it has Mixtral's.
    [Fact]
    public async Task TheGsm8kRecordedAnswers_ReplayTheCascadeAtBothEnds()
    {
        (int exit, string output, string error) = await CliTests.RunAsync("simulate", "--trace", Gsm8k, "--pipeline", Gsm8kPipeline("1.5"), "--json");
        Assert.True(exit == 0, error);
        using JsonDocument never = JsonDocument.Parse(output);
        JsonElement root = never.RootElement;
        Assert.Equal(1319, root.GetProperty("requests").GetInt64());
        Assert.Equal(2638, root.GetProperty("providerCalls").GetInt64());
        JsonElement quality = root.GetProperty("quality");
        Assert.Equal(1319, quality.GetProperty("judged").GetInt64());
        Assert.Equal(1130, quality.GetProperty("rightWithout").GetInt64());
        Assert.Equal(1130, quality.GetProperty("rightWith").GetInt64());
        decimal gpt4Alone = root.GetProperty("costWithout").GetDecimal();
        decimal extra = -root.GetProperty("saved").GetDecimal();
        Assert.True(extra > 0m);

        (exit, output, error) = await CliTests.RunAsync("simulate", "--trace", Gsm8k, "--pipeline", Gsm8kPipeline("0"), "--json");
        Assert.True(exit == 0, error);
        using JsonDocument always = JsonDocument.Parse(output);
        root = always.RootElement;
        Assert.Equal(1319, root.GetProperty("providerCalls").GetInt64());
        Assert.Equal(842, root.GetProperty("quality").GetProperty("rightWith").GetInt64());
        Assert.Equal(gpt4Alone, root.GetProperty("costWithout").GetDecimal());

        // The Mixtral calls cost the same whether or not GPT-4 is called after them.
        Assert.Equal(extra, root.GetProperty("costWith").GetDecimal());
    }

    // A learned scorer saved by the app is loaded and scores each cheap answer: the number of escalations is what the
    // same scorer, loaded here, predicts.
    [Fact]
    public async Task ALearnedScorerFile_DecidesTheEscalations()
    {
        List<(string Prompt, string Answer, bool Right)> rows = await ReadGsm8kAsync(60);
        using IEmbeddingGenerator<string, Embedding<float>> embedder = MiniLMEmbeddings.CreateGenerator();
        LearnedAnswerScorer trained = await LearnedAnswerScorer.TrainAsync(embedder, [.. rows.Take(40).Select(static r => new LearnedScorerExample(r.Prompt, r.Answer, r.Right))]);
        string file = Path.Combine(_dir, "scorer.bin");
        await using (FileStream stream = File.Create(file))
        {
            trained.Save(stream);
        }

        LearnedAnswerScorer loaded;
        await using (FileStream stream = File.OpenRead(file))
        {
            loaded = LearnedAnswerScorer.Load(stream, embedder);
        }

        const double threshold = 0.6;
        int escalations = 0;
        foreach ((string prompt, string answer, _) in rows.Skip(40))
        {
            escalations += await loaded.PredictAsync(prompt, answer) >= threshold ? 0 : 1;
        }

        string trace = Write("trace.jsonl", string.Join('\n', rows.Skip(40).Select(static r => JsonSerializer.Serialize(new
        {
            prompt = r.Prompt,
            answers = new Dictionary<string, object> { [Mixtral] = new { text = r.Answer, correct = r.Right }, [Gpt4] = "The answer." },
        }))));
        string pipeline = Gsm8kPipeline("0.6", """, "CascadeScorer": "Learned", "LearnedScorer": "scorer.bin" """);

        (int exit, string output, string error) = await CliTests.RunAsync("simulate", "--trace", trace, "--pipeline", pipeline, "--json");

        Assert.True(exit == 0, error);
        using JsonDocument result = JsonDocument.Parse(output);
        Assert.Equal(20 + escalations, result.RootElement.GetProperty("providerCalls").GetInt64());
        Assert.Equal(20 - escalations, Assert.Single(result.RootElement.GetProperty("byStage").EnumerateArray()).GetProperty("answers").GetInt64());
    }

    [Theory]
    [InlineData("""{"prompt":"q","answers":{"gpt-4o":"a"}}""", "2: answers: no recorded answer of 'gpt-4o-mini'")]
    [InlineData("""{"prompt":"q","answers":{"gpt-4o":"a","gpt-4o-mini":{"text":"b","colour":1}}}""", "2: answers.gpt-4o-mini.colour: unknown field")]
    [InlineData("""{"prompt":"q","answers":{"gpt-4o":"a","gpt-4o-mini":{"text":"b","correct":"yes"}}}""", "2: answers.gpt-4o-mini.correct: '\"yes\"' is not true or false")]
    [InlineData("""{"prompt":"q","answers":["a"]}""", "2: answers: not an object")]
    public async Task AMissingOrMalformedRecordedAnswer_IsNamedByLineAndField(string row, string problem)
    {
        string trace = Write("trace.jsonl", """{"prompt":"fine","answers":{"gpt-4o":"a","gpt-4o-mini":"b"}}""" + "\n" + row + "\n");
        string pipeline = Write("pipeline.json", """
            { "Simulation": { "Model": "gpt-4o", "Stages": [ "Cascade" ] },
              "CostAware": { "Cascade": { "Tiers": [ { "ModelId": "gpt-4o-mini" }, { "ModelId": "gpt-4o" } ] } } }
            """);

        (int exit, string output, string error) = await CliTests.RunAsync("simulate", "--trace", trace, "--pipeline", pipeline, "--json");

        Assert.Equal(2, exit);
        Assert.Equal(string.Empty, output);
        Assert.Contains(problem, error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ARecordedAnswersCsv_WithABadLabel_IsNamedByItsLineAndColumn()
    {
        string trace = Write("answers.csv", $"prompt,a,b,a_response,b_response\nq1,True,False,\"two\nlines\",x\nq2,maybe,True,y,z\n");
        string pipeline = Write("pipeline.json", """{ "Simulation": { "Model": "gpt-4o", "Stages": [] } }""");

        (int exit, _, string error) = await CliTests.RunAsync("simulate", "--trace", trace, "--pipeline", pipeline);

        Assert.Equal(2, exit);
        Assert.Contains($"{trace}:4: a: 'maybe' is not True or False", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task TheCascadeStage_WithoutTiers_IsAClearError()
    {
        string trace = Write("trace.jsonl", "{\"prompt\":\"fine\"}\n");
        string pipeline = Write("pipeline.json", """{ "Simulation": { "Model": "gpt-4o", "Stages": [ "Cascade" ] } }""");

        (int exit, _, string error) = await CliTests.RunAsync("simulate", "--trace", trace, "--pipeline", pipeline);

        Assert.Equal(2, exit);
        Assert.Contains("CostAware:Cascade:Tiers: missing", error, StringComparison.Ordinal);
    }

    private static async Task<List<(string Prompt, string Answer, bool Right)>> ReadGsm8kAsync(int count)
    {
        // The samples' RFC 4180 reader (fields span lines), independent of the tool's, which is what is under test.
        using StringReader reader = new(await File.ReadAllTextAsync(Gsm8k));
        return [.. CostAware.Samples.Csv.Rows(reader).Skip(1).Take(count).Select(static r => (r[0], r[3], r[1] == "True"))];
    }
}

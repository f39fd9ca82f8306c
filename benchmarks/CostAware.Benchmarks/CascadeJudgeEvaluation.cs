using System.Globalization;
using System.Text;
using System.Text.Json;
using CostAware.Tests.TestUtilities;
using Microsoft.Extensions.AI;

namespace CostAware.Benchmarks;

// The judge path of the model cascade on MT-Bench (RouteLLM's data in ../shared/data/cascade/): the first turn of each
// question, the recorded answers of Mixtral-8x7B and GPT-4-1106, and GPT-4's recorded 1-10 grade of each answer. The
// real ModelCascadeChatClient runs with JudgeAnswerScorer on the cheap tier; the judge is a replay that returns GPT-4's
// recorded judgement of the answer it is shown (so its grades are exactly what decides quality: an upper bound for any
// judge), metered at the price of the model named in each row. Not a timing: it writes a table.
internal static class CascadeJudgeEvaluation
{
    private const string CheapModel = "open-mixtral-8x7b";
    private const string StrongModel = "gpt-4-1106-preview";

    public static async Task RunAsync(string output)
    {
        string data = TestData.PathOf("cascade");
        HashSet<string> contaminated = [.. File.ReadLines(Path.Combine(data, "mt_bench_contaminated_prompts.jsonl"))
            .Select(static l => JsonDocument.Parse(l).RootElement.GetProperty("eval_prompt").GetString()!.Trim())];
        Dictionary<int, string> questions = [];
        foreach (string line in File.ReadLines(Path.Combine(data, "mt_bench_question.jsonl")))
        {
            JsonElement e = JsonDocument.Parse(line).RootElement;
            string first = e.GetProperty("turns")[0].GetString()!;
            if (!contaminated.Contains(first.Trim()))
            {
                questions[e.GetProperty("question_id").GetInt32()] = first;
            }
        }

        // Per question and model: the first-turn answer, its grade and the judge's recorded judgement.
        Dictionary<(int Question, string Model), (string Answer, double Grade, string Judgement)> graded = [];
        foreach (string line in File.ReadLines(Path.Combine(data, "mt_bench_judgements.jsonl")))
        {
            JsonElement e = JsonDocument.Parse(line).RootElement;
            string kind = e.GetProperty("judge")[1].GetString()!;
            if (kind is not ("single-v1" or "single-math-v1") || Text(e, "turn") != "1")
            {
                continue;
            }

            int id = int.Parse(Text(e, "question_id"), CultureInfo.InvariantCulture);
            string prompt = e.GetProperty("user_prompt").GetString()!;
            const string Start = "[The Start of Assistant's Answer]\n", End = "\n[The End of Assistant's Answer]";
            int from = prompt.IndexOf(Start, StringComparison.Ordinal);
            int to = prompt.IndexOf(End, StringComparison.Ordinal);
            if (from < 0 || to < from || !questions.ContainsKey(id))
            {
                continue;
            }

            string model = e.GetProperty("model").GetString()!.StartsWith("mistralai", StringComparison.Ordinal) ? CheapModel : StrongModel;
            graded[(id, model)] = (prompt[(from + Start.Length)..to], double.Parse(Text(e, "score"), CultureInfo.InvariantCulture), e.GetProperty("judgment").GetString()!);
        }

        int[] ids = [.. questions.Keys.Where(id => graded.ContainsKey((id, CheapModel)) && graded.ContainsKey((id, StrongModel))).Order()];
        IPriceCatalog catalog = PriceCatalog.BuiltIn;
        decimal Cost(string model, string input, string answer) =>
            catalog.TryGetPrice(model, out ModelPrice? price)
                ? price.CalculateCost(new TokenCounts { Input = TiktokenTokenEstimator.Default.CountTokens(input, model), Output = TiktokenTokenEstimator.Default.CountTokens(answer, model) }).Total
                : throw new InvalidOperationException($"{model} has no price.");

        double cheapQuality = ids.Average(id => graded[(id, CheapModel)].Grade) / 10;
        double strongQuality = ids.Average(id => graded[(id, StrongModel)].Grade) / 10;
        decimal cheapCost = ids.Average(id => Cost(CheapModel, questions[id], graded[(id, CheapModel)].Answer));
        decimal strongCost = ids.Average(id => Cost(StrongModel, questions[id], graded[(id, StrongModel)].Answer));
        double oracleQuality = ids.Average(id => Math.Max(graded[(id, CheapModel)].Grade, graded[(id, StrongModel)].Grade)) / 10;

        StringBuilder md = new();
        md.AppendLine("# Model cascade with a judge, on MT-Bench's recorded answers and grades");
        md.AppendLine();
        md.AppendLine("Written by `dotnet run -c Release --project benchmarks/CostAware.Benchmarks -- --cascade-judge`. Data: RouteLLM's recorded first-turn");
        md.AppendLine(CultureInfo.InvariantCulture, $"answers of Mixtral-8x7B (`{CheapModel}`) and GPT-4-1106 (`{StrongModel}`) to MT-Bench's questions ({ids.Length} after removing the contaminated ones), and GPT-4's");
        md.AppendLine("recorded 1-10 grade of each answer. Quality is the served answer's grade / 10. The real `ModelCascadeChatClient` runs with");
        md.AppendLine("`JudgeAnswerScorer` on Mixtral's tier; the judge replays GPT-4's recorded judgement of the answer it is shown, so its grade is");
        md.AppendLine("exactly the one quality is measured by (no judge can do better), and it is metered (prompt and recorded judgement, tokens by");
        md.AppendLine(CultureInfo.InvariantCulture, $"OpenAI's tokenizer) at the price of the model each row names. {ids.Length} questions: read the figures as ±5 points.");
        md.AppendLine();
        md.AppendLine("| strategy | quality (grade / 10) | cost per 1,000 questions | cost vs GPT-4 | calls to GPT-4 |");
        md.AppendLine("|---|---|---|---|---|");
        md.AppendLine(Line("Mixtral alone", cheapQuality, cheapCost, strongCost, "0 %"));
        md.AppendLine(Line("GPT-4 alone", strongQuality, strongCost, strongCost, "100 %"));
        foreach (string judgeModel in (string[])[StrongModel, "gpt-4o-mini"])
        {
            foreach (double threshold in (double[])[0.7, 0.8, 0.9, 1.0])
            {
                (double quality, decimal cost, int escalated) = await RunAsync(questions, graded, ids, judgeModel, threshold);
                md.AppendLine(Line(
                    string.Create(CultureInfo.InvariantCulture, $"cascade, judge priced as `{judgeModel}`, accept at grade ≥ {threshold * 10:0}"),
                    quality, cost, strongCost, $"{(double)escalated / ids.Length:P0}"));
            }
        }

        md.AppendLine(Line("oracle (the better-graded answer, at the cheap price when Mixtral's is as good)", oracleQuality,
            ids.Average(id => graded[(id, CheapModel)].Grade >= graded[(id, StrongModel)].Grade ? Cost(CheapModel, questions[id], graded[(id, CheapModel)].Answer) : Cost(StrongModel, questions[id], graded[(id, StrongModel)].Answer)),
            strongCost, "–"));
        md.AppendLine();
        md.AppendLine("Reading: a judge as dear as the strong model costs more than it saves, because grading a long answer reads the question and the");
        md.AppendLine("whole answer and writes a judgement, which costs about as much as answering. The judge pays only when it is much cheaper than");
        md.AppendLine("the strong model; the `gpt-4o-mini` rows show that case, with GPT-4's grades (a cheap judge grades worse, so they are an upper bound).");

        _ = Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(output))!);
        await File.WriteAllTextAsync(output, md.ToString());
        Console.WriteLine(md.ToString());
    }

    private static string Text(JsonElement e, string name) =>
        e.GetProperty(name) is { ValueKind: JsonValueKind.Number } number ? number.GetRawText() : e.GetProperty(name).GetString()!;

    private static string Line(string name, double quality, decimal cost, decimal strongCost, string toStrong) =>
        string.Create(CultureInfo.InvariantCulture, $"| {name} | {quality:P1} | ${cost * 1000:0.00} | {(double)(cost / strongCost):P0} | {toStrong} |");

    private static async Task<(double Quality, decimal Cost, int Escalated)> RunAsync(
        Dictionary<int, string> questions, Dictionary<(int, string), (string Answer, double Grade, string Judgement)> graded, int[] ids, string judgeModel, double threshold)
    {
        Dictionary<string, int> byQuestion = ids.ToDictionary(id => questions[id]);
        Dictionary<string, (double Grade, string Judgement)> byAnswer = [];
        foreach (int id in ids)
        {
            (string answer, double grade, string judgement) = graded[(id, CheapModel)];
            byAnswer[answer] = (grade, judgement);
        }

        Replay provider = new(request =>
        {
            string last = request.Messages[^1].Text;
            if (request.Model == judgeModel && last.StartsWith("Conversation:", StringComparison.Ordinal))
            {
                const string Marker = "Answer to grade (the assistant's reply to the last message):\n";
                string answer = last[(last.IndexOf(Marker, StringComparison.Ordinal) + Marker.Length)..];
                (double grade, string judgement) = byAnswer[answer];
                return $"GRADE: {grade.ToString(CultureInfo.InvariantCulture)}\n{judgement}";
            }

            return graded[(byQuestion[last], request.Model)].Answer;
        });
        TokenMeteringChatClient inner = new(provider);
        using ModelCascadeChatClient cascade = new(
            inner,
            new ModelCascadeOptions
            {
                Tiers = { new CascadeTier { ModelId = CheapModel, AcceptThreshold = threshold }, new CascadeTier { ModelId = StrongModel } },
                Scorers = [new JudgeAnswerScorer(inner, judgeModel)],
                MaxRetries = 0,
            });
        double quality = 0;
        decimal cost = 0m;
        int escalated = 0;
        foreach (int id in ids)
        {
            ChatResponse response = await cascade.GetResponseAsync(questions[id]);
            bool strong = response.GetCascadeReport()!.Attempts[^1].ModelId == StrongModel;
            escalated += strong ? 1 : 0;
            quality += graded[(id, strong ? StrongModel : CheapModel)].Grade / 10;
            cost += response.GetCostReceipt()!.Spent;
        }

        return (quality / ids.Length, cost / ids.Length, escalated);
    }

    // Answers with the recorded text for the request; usage is left to the metering stage's estimate from the text.
    private sealed class Replay(Func<(string Model, IReadOnlyList<ChatMessage> Messages), string> answer) : IChatClient
    {
        public Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
        {
            string model = options!.ModelId!;
            return Task.FromResult(new ChatResponse(new ChatMessage(ChatRole.Assistant, answer((model, [.. messages])))) { ModelId = model, FinishReason = ChatFinishReason.Stop });
        }

        public IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default) =>
            throw new NotSupportedException();

        public object? GetService(Type serviceType, object? serviceKey = null) => null;

        public void Dispose()
        {
        }
    }
}

using System.Globalization;
using System.Text.RegularExpressions;
using CostAware;
using CostAware.Samples;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;

// CostAware model cascade: each question goes to the cheap model first (Mixtral-8x7B); its answer is scored, and only
// answers that do not pass go on to the strong model (GPT-4). Every tier tried is on the report, with what it cost and
// why it was or was not served, and what the cascade saved against sending everything to GPT-4. Offline by default:
// recorded answers of both models to GSM8K questions. See benchmarks/results/cascade-evaluation.md for accuracy.
//
// With --local <model-folder>, a model running in process on ONNX Runtime (CostAware.Onnx) becomes the cheapest tier,
// priced from an hourly hardware cost (--cost-per-hour, default 0.40) and its measured throughput:
//   dotnet run --project samples/Cascade -- 12 --local ~/models/qwen2.5-0.5b-instruct
int count = args.Length > 0 && int.TryParse(args[0], CultureInfo.InvariantCulture, out int n) ? n : 12;
(IChatClient backend, string description, IReadOnlyList<string> questions) = SampleBackend.Create();
Console.WriteLine($"Backend: {description}");
using OnnxChatClient? local = Option("--local") is { } folder ? new OnnxChatClient(new OnnxChatClientOptions { ModelPath = folder }) : null;
ModelPriceOptions? localPrice = null;
if (local is not null)
{
    _ = await local.GetResponseAsync("What is 2 + 2?", new ChatOptions { MaxOutputTokens = 32 });
    localPrice = local.Throughput.ToPrice(Option("--cost-per-hour") is { } cost ? decimal.Parse(cost, CultureInfo.InvariantCulture) : 0.40m);
    Console.WriteLine($"Cheapest tier: {local.ModelId} on {local.Device} at ${localPrice.Input}/M input, ${localPrice.Output}/M output tokens");
}

ServiceCollection services = new();
services.AddCostAware(o =>
{
    if (local is not null)
    {
        o.Prices[local.ModelId] = localPrice!;
    }
});
services.AddChatClient(backend)
    .UseModelCascade(o =>
    {
        o.Tiers = [new CascadeTier { ModelId = SampleBackend.CheapModel, AcceptThreshold = 1.0 }, new CascadeTier { ModelId = SampleBackend.StrongModel }];
        if (local is not null)
        {
            o.Tiers.Insert(0, new CascadeTier { ModelId = local.ModelId, Client = local, AcceptThreshold = 1.0 });
        }

        o.Scorers = [StructuralAnswerScorer.Instance, new ShowsItsFinalAnswer()];
    })
    .UseTokenMetering();
await using ServiceProvider provider = services.BuildServiceProvider();
IChatClient chat = provider.GetRequiredService<IChatClient>();

decimal spent = 0m, strongOnly = 0m;
int escalated = 0;
for (int i = 0; i < count && i < questions.Count; i++)
{
    ChatResponse response = await chat.GetResponseAsync(questions[i], new ChatOptions().WithCostScope(new CostScope { Tenant = "acme", Feature = "homework-help" }));
    CascadeReport report = response.GetCascadeReport()!;
    spent += report.Spent;
    strongOnly += report.StrongestTierCost ?? 0m;
    escalated += report.Attempts.Count > 1 ? 1 : 0;
    string path = string.Join(" -> ", report.Attempts.Select(a => $"{a.ModelId} ({(a.Score is { } s ? s.ToString("0.00", CultureInfo.InvariantCulture) + ": " : string.Empty)}{a.Reason})"));
    Console.WriteLine($"{i + 1,2}. {path}");
}

Console.WriteLine();
Console.WriteLine($"{escalated} of {Math.Min(count, questions.Count)} questions went on to {SampleBackend.StrongModel}.");
Console.WriteLine($"Spent ${spent:0.0000}; sending every question to {SampleBackend.StrongModel} would have cost ${strongOnly:0.0000} (saved ${strongOnly - spent:0.0000}).");

string? Option(string name)
{
    int at = Array.IndexOf(args, name);
    return at >= 0 && at + 1 < args.Length ? args[at + 1] : null;
}

// The app's own scorer: GSM8K answers end with "#### <number>"; an answer that does not, or that hedges, is not trusted.
internal sealed partial class ShowsItsFinalAnswer : IAnswerScorer
{
    public ValueTask<AnswerScore> ScoreAsync(AnswerScoringContext context, CancellationToken cancellationToken)
    {
        string text = context.Response.Text;
        AnswerScore score = !FinalAnswer().IsMatch(text) ? new(0, "no final answer")
            : Hedging().IsMatch(text) ? new(0.5, "hedges")
            : new(1, "final answer given");
        return ValueTask.FromResult(score);
    }

    [GeneratedRegex(@"####\s*\$?-?[\d,\.]+", RegexOptions.CultureInvariant, matchTimeoutMilliseconds: 1000)]
    private static partial Regex FinalAnswer();

    [GeneratedRegex(@"\b(however|assum\w*|approximately|round\w*)\b", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant, matchTimeoutMilliseconds: 1000)]
    private static partial Regex Hedging();
}

using BenchmarkDotNet.Attributes;
using Microsoft.Extensions.AI;

namespace CostAware.Benchmarks;

// What a budget check adds to a whole call, stage included: estimating the input, reserving the worst case, admitting
// the provider call through the call's context, settling. Against the same pipeline without the budget stage (the
// metering stage alone) in the same run; the provider answers in-process, so only the middleware is measured (a real
// provider round trip is hundreds of milliseconds).
[MemoryDiagnoser]
[SimpleJob(launchCount: 1, warmupCount: 3, iterationCount: 12)]
public class BudgetStageBenchmark
{
    private static readonly ChatMessage[] Messages = [new(ChatRole.User, "Janet’s ducks lay 16 eggs per day. How much does she make?")];

    private readonly ChatOptions _options = new ChatOptions { ModelId = "gpt-4o", MaxOutputTokens = 500 }.WithCostScope(new CostScope { Tenant = "acme", Feature = "faq" });
    private IChatClient _metered = null!;
    private IChatClient _budgeted = null!;
    private IChatClient _threeBudgets = null!;

    [GlobalSetup]
    public void Setup()
    {
        IChatClient provider = new InProcessProvider();
        _metered = provider.AsBuilder().UseTokenMetering().Build();
        _budgeted = new BudgetChatClient(_metered, Options(1));
        _threeBudgets = new BudgetChatClient(_metered, Options(3));
        _ = TiktokenTokenEstimator.Default.CountTokens("warm", "gpt-4o");
    }

    [Benchmark(Baseline = true)]
    public Task<ChatResponse> MeteringOnly() => _metered.GetResponseAsync(Messages, _options);

    [Benchmark]
    public Task<ChatResponse> BudgetAndMetering() => _budgeted.GetResponseAsync(Messages, _options);

    [Benchmark]
    public Task<ChatResponse> ThreeBudgetsAndMetering() => _threeBudgets.GetResponseAsync(Messages, _options);

    private static BudgetOptions Options(int budgets)
    {
        BudgetOptions options = new();
        options.Budgets["tenant-daily"] = new BudgetDefinition { Per = [CostScopeDimension.Tenant], Window = BudgetWindow.Day, Limit = 9_000_000m };
        if (budgets > 1)
        {
            options.Budgets["feature-hourly"] = new BudgetDefinition { Per = [CostScopeDimension.Feature], Window = BudgetWindow.Hour, Limit = 9_000_000m };
            options.Budgets["app-monthly"] = new BudgetDefinition { Window = BudgetWindow.Month, Limit = 9_000_000m };
        }

        return options;
    }
}

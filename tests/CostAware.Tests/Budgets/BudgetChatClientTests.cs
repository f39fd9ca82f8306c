using System.Diagnostics.Metrics;
using CostAware.Internal;
using CostAware.Shared;
using CostAware.Tests.TestUtilities;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using Microsoft.Extensions.Time.Testing;

namespace CostAware.Tests.Budgets;

public class BudgetChatClientTests
{
    // gpt-4o-mini: $0.15 in, $0.60 out per million tokens.
    private const string Model = "gpt-4o-mini";
    private static readonly DateTimeOffset Now = new(2026, 11, 24, 13, 30, 0, TimeSpan.Zero);

    private readonly FakeTimeProvider _time = new(Now);
    private readonly InMemoryCostLedger _ledger = new();
    private readonly FakeLogCollector _logs = new();
    private readonly InMemoryBudgetStore _store = new();

    private static readonly CostScope Acme = new() { Tenant = "acme" };

    // A call of 1,000 input and 500 output tokens: 1,000 x 0.15 + 500 x 0.60 per million = $0.00045.
    private static ChatResponse Answer(long input = 1_000, long output = 500, string model = Model) =>
        new(new ChatMessage(ChatRole.Assistant, "ok")) { ModelId = model, Usage = new UsageDetails { InputTokenCount = input, OutputTokenCount = output } };

    private static BudgetOptions Options(decimal limit = 0.01m, BudgetWindow window = BudgetWindow.Day, Action<BudgetDefinition>? budget = null, Action<BudgetOptions>? more = null)
    {
        BudgetDefinition definition = new() { Per = [CostScopeDimension.Tenant], Window = window, Limit = limit };
        budget?.Invoke(definition);
        BudgetOptions options = new() { Budgets = { ["tenant-daily"] = definition }, MaxOutputTokensCeiling = 1_000 };
        more?.Invoke(options);
        return options;
    }

    private IChatClient Pipeline(IChatClient provider, BudgetOptions options, IBudgetStore? store = null, CostAwareMetrics? metrics = null, bool meter = true) =>
        new BudgetChatClient(
            meter ? new TokenMeteringChatClient(provider, priceCatalog: null, ledger: null, tokenEstimator: null, options: null, _time) : provider,
            options,
            priceCatalog: null,
            tokenEstimator: null,
            _ledger,
            _time,
            LoggerFactory.Create(b => b.AddProvider(new FakeLoggerProvider(_logs)).SetMinimumLevel(LogLevel.Trace)),
            store ?? _store,
            metrics);

    private static ChatOptions For(CostScope scope, int? maxOutput = 500) => new ChatOptions { ModelId = Model, MaxOutputTokens = maxOutput }.WithCostScope(scope);

    private static async Task<BudgetStatus> StatusAsync(IChatClient client, CostScope scope) =>
        Assert.Single(await client.GetService<BudgetChatClient>()!.GetStatusAsync(scope));

    [Fact]
    public async Task GetResponseAsync_Admitted_SettlesToTheReceiptsCostExactly()
    {
        TestChatClient provider = new() { GetResponseAsyncCallback = (_, _, _) => Task.FromResult(Answer()) };
        using IChatClient client = Pipeline(provider, Options());

        ChatResponse response = await client.GetResponseAsync("How many?", For(Acme));

        Assert.Equal(0.00045m, response.GetCostReceipt()!.Spent);
        BudgetStatus status = await StatusAsync(client, Acme);
        Assert.Equal(0.00045m, status.Spent);
        Assert.Equal(0m, status.Reserved);
        Assert.Equal(1, status.Calls);
        Assert.Equal(0.01m - 0.00045m, status.Remaining);
        Assert.Equal("tenant=acme", status.ScopeKey);
        Assert.Equal(new DateTimeOffset(2026, 11, 24, 0, 0, 0, TimeSpan.Zero), status.WindowStart);
        Assert.Equal(new DateTimeOffset(2026, 11, 25, 0, 0, 0, TimeSpan.Zero), status.ResetsAt);

        // The stage opened the receipt, so it recorded it, once.
        Assert.Single(await _ledger.QueryAsync(CostLedgerQuery.All).ToListAsync());
    }

    [Fact]
    public async Task GetResponseAsync_NoRoom_RefusedBeforeTheProviderIsPaid()
    {
        TestChatClient provider = new() { GetResponseAsyncCallback = (_, _, _) => Task.FromResult(Answer(input: 20_000, output: 1_000)) };
        using IChatClient client = Pipeline(provider, Options(limit: 0.0038m));

        // $0.0036 spent; the next call may cost up to (input estimate + 10 %) x $0.15 + 500 x $0.60 per million.
        _ = await client.GetResponseAsync("first", For(Acme));
        BudgetExceededException refused = await Assert.ThrowsAsync<BudgetExceededException>(() => client.GetResponseAsync("second", For(Acme)));

        Assert.Equal(1, provider.Calls);
        Assert.Equal("tenant-daily", refused.BudgetName);
        Assert.Equal("tenant=acme", refused.ScopeKey);
        Assert.Equal(BudgetWindow.Day, refused.Window);
        Assert.Equal(0.0038m, refused.Limit);
        Assert.Equal(0.0036m, refused.Spent);
        Assert.Equal(0m, refused.Reserved);
        Assert.True(refused.Spent + refused.Reserved + refused.Requested > refused.Limit);
        Assert.Equal(new DateTimeOffset(2026, 11, 25, 0, 0, 0, TimeSpan.Zero), refused.ResetsAt);
        Assert.Equal(1, refused.Calls);
        Assert.False(refused.IsCallLimit);
        Assert.Contains("Budget 'tenant-daily' for tenant=acme has no room for this call: limit 0.0038, spent 0.0036", refused.Message, StringComparison.Ordinal);
        Assert.Contains("the day window resets at 2026-11-25T00:00:00+00:00", refused.Message, StringComparison.Ordinal);
        Assert.Contains(_logs.GetSnapshot(), r => r.Id.Id == Log.BudgetRefusedEventId);
    }

    [Fact]
    public async Task GetResponseAsync_TenantsAreCountedApart()
    {
        TestChatClient provider = new() { GetResponseAsyncCallback = (_, _, _) => Task.FromResult(Answer(input: 20_000, output: 1_000)) };
        using IChatClient client = Pipeline(provider, Options(limit: 0.0038m));
        CostScope globex = new() { Tenant = "globex" };

        _ = await client.GetResponseAsync("q", For(Acme));
        _ = await Assert.ThrowsAsync<BudgetExceededException>(() => client.GetResponseAsync("q", For(Acme)));
        _ = await client.GetResponseAsync("q", For(globex));

        Assert.Equal(0.0036m, (await StatusAsync(client, globex)).Spent);
        Assert.Equal(0.0036m, (await StatusAsync(client, Acme)).Spent);
    }

    [Fact]
    public async Task GetResponseAsync_ScopeWithoutTheDimension_PooledUnderDash()
    {
        TestChatClient provider = new() { GetResponseAsyncCallback = (_, _, _) => Task.FromResult(Answer(input: 20_000, output: 1_000)) };
        using IChatClient client = Pipeline(provider, Options(limit: 0.0038m));

        _ = await client.GetResponseAsync("q", For(new CostScope { User = "u1" }));
        BudgetExceededException refused = await Assert.ThrowsAsync<BudgetExceededException>(() => client.GetResponseAsync("q", For(new CostScope { User = "u2" })));

        Assert.Equal("tenant=-", refused.ScopeKey);
    }

    [Fact]
    public async Task GetResponseAsync_PoolUnscopedCallsOff_CallsWithoutTheDimensionAreNotCounted()
    {
        TestChatClient provider = new() { GetResponseAsyncCallback = (_, _, _) => Task.FromResult(Answer()) };
        BudgetOptions options = new()
        {
            Budgets = { ["agent-run"] = new BudgetDefinition { Per = [CostScopeDimension.Workflow], Window = BudgetWindow.Lifetime, MaxCalls = 1, PoolUnscopedCalls = false } },
        };
        using IChatClient client = Pipeline(provider, options);

        _ = await client.GetResponseAsync("q", For(Acme));
        _ = await client.GetResponseAsync("q", For(Acme));
        _ = await client.GetResponseAsync("q", For(Acme with { Workflow = "run-1" }));
        _ = await Assert.ThrowsAsync<BudgetExceededException>(() => client.GetResponseAsync("q", For(Acme with { Workflow = "run-1" })));

        Assert.Equal(3, provider.Calls);
    }

    [Fact]
    public async Task GetResponseAsync_WhereFilter_AppliesOnlyToMatchingCalls()
    {
        TestChatClient provider = new() { GetResponseAsyncCallback = (_, _, _) => Task.FromResult(Answer(input: 20_000, output: 1_000)) };
        using IChatClient client = Pipeline(provider, Options(limit: 0.0038m, budget: b => b.Where[CostScopeDimension.Feature] = "chat"));
        CostScope chat = Acme with { Feature = "chat" };
        CostScope search = Acme with { Feature = "search" };

        _ = await client.GetResponseAsync("q", For(chat));
        _ = await Assert.ThrowsAsync<BudgetExceededException>(() => client.GetResponseAsync("q", For(chat)));
        _ = await client.GetResponseAsync("q", For(search));
        _ = await client.GetResponseAsync("q", For(search));

        Assert.Equal(3, provider.Calls);
        Assert.Empty(await client.GetService<BudgetChatClient>()!.GetStatusAsync(search));
    }

    [Fact]
    public async Task GetResponseAsync_ProviderFails_ReservationReleasedAndNothingSpent()
    {
        TestChatClient provider = new() { GetResponseAsyncCallback = (_, _, _) => throw new HttpRequestException("503") };
        using IChatClient client = Pipeline(provider, Options());

        _ = await Assert.ThrowsAsync<HttpRequestException>(() => client.GetResponseAsync("q", For(Acme)));

        BudgetStatus status = await StatusAsync(client, Acme);
        Assert.Equal(0m, status.Spent);
        Assert.Equal(0m, status.Reserved);
        Assert.Equal(1, status.Calls);
    }

    [Fact]
    public async Task GetResponseAsync_Cancelled_ReservationReleased()
    {
        using CancellationTokenSource cts = new();
        TestChatClient provider = new()
        {
            GetResponseAsyncCallback = async (_, _, ct) =>
            {
                await cts.CancelAsync();
                ct.ThrowIfCancellationRequested();
                return Answer();
            },
        };
        using IChatClient client = Pipeline(provider, Options());

        _ = await Assert.ThrowsAnyAsync<OperationCanceledException>(() => client.GetResponseAsync("q", For(Acme), cts.Token));

        Assert.Equal(0m, (await StatusAsync(client, Acme)).Reserved);
    }

    [Fact]
    public async Task GetResponseAsync_CallInFlight_HoldsItsReservation()
    {
        TaskCompletionSource<ChatResponse> held = new(TaskCreationOptions.RunContinuationsAsynchronously);
        TestChatClient provider = new() { GetResponseAsyncCallback = (_, _, _) => held.Task };
        using IChatClient client = Pipeline(provider, Options());

        Task<ChatResponse> call = client.GetResponseAsync("q", For(Acme));
        BudgetStatus during = await StatusAsync(client, Acme);
        held.SetResult(Answer());
        _ = await call;
        BudgetStatus after = await StatusAsync(client, Acme);

        // 3 + 1 + 3 estimated input tokens, plus 10 %, and 500 output tokens at the request's limit.
        Assert.Equal(0.0003012m, during.Reserved);
        Assert.Equal(0m, during.Spent);
        Assert.Equal(0m, after.Reserved);
        Assert.Equal(0.00045m, after.Spent);
    }

    [Fact]
    public async Task GetResponseAsync_ReservationNeverSettled_ExpiresAfterTheTimeout()
    {
        TaskCompletionSource<ChatResponse> hung = new(TaskCreationOptions.RunContinuationsAsynchronously);
        int calls = 0;
        TestChatClient provider = new() { GetResponseAsyncCallback = (_, _, _) => Interlocked.Increment(ref calls) == 1 ? hung.Task : Task.FromResult(Answer()) };

        // Room for one call's worst case (500 output tokens at $0.60 per million is $0.0003) but not two.
        using IChatClient client = Pipeline(provider, Options(limit: 0.0005m, more: o => o.ReservationTimeout = TimeSpan.FromMinutes(10)));

        Task<ChatResponse> stuck = client.GetResponseAsync("q", For(Acme));
        _ = await Assert.ThrowsAsync<BudgetExceededException>(() => client.GetResponseAsync("q", For(Acme)));
        _time.Advance(TimeSpan.FromMinutes(10));
        _ = await client.GetResponseAsync("q", For(Acme));

        // The lapsed call still counts in full when it does finish.
        hung.SetResult(Answer());
        _ = await stuck;
        BudgetStatus status = await StatusAsync(client, Acme);
        Assert.Equal(0.0009m, status.Spent);
        Assert.Equal(0m, status.Reserved);
    }

    [Fact]
    public async Task GetResponseAsync_DayWindowInATimeZone_ResetsAtLocalMidnight()
    {
        TestChatClient provider = new() { GetResponseAsyncCallback = (_, _, _) => Task.FromResult(Answer(input: 20_000, output: 1_000)) };
        using IChatClient client = Pipeline(provider, Options(limit: 0.0038m, budget: b => b.TimeZone = "America/New_York"));

        _ = await client.GetResponseAsync("q", For(Acme));
        BudgetExceededException refused = await Assert.ThrowsAsync<BudgetExceededException>(() => client.GetResponseAsync("q", For(Acme)));

        // 13:30 UTC is 08:30 in New York (EST, UTC-5): the window ends at local midnight, 05:00 UTC.
        Assert.Equal(new DateTimeOffset(2026, 11, 25, 0, 0, 0, TimeSpan.FromHours(-5)), refused.ResetsAt);
        _time.SetUtcNow(new DateTimeOffset(2026, 11, 25, 4, 59, 59, TimeSpan.Zero));
        _ = await Assert.ThrowsAsync<BudgetExceededException>(() => client.GetResponseAsync("q", For(Acme)));
        _time.SetUtcNow(new DateTimeOffset(2026, 11, 25, 5, 0, 0, TimeSpan.Zero));
        _ = await client.GetResponseAsync("q", For(Acme));
        Assert.Equal(0.0036m, (await StatusAsync(client, Acme)).Spent);
    }

    [Fact]
    public async Task GetResponseAsync_MonthWindow_RollsOverOnTheFirst()
    {
        TestChatClient provider = new() { GetResponseAsyncCallback = (_, _, _) => Task.FromResult(Answer(input: 20_000, output: 1_000)) };
        using IChatClient client = Pipeline(provider, Options(limit: 0.0038m, window: BudgetWindow.Month));

        _ = await client.GetResponseAsync("q", For(Acme));
        _time.SetUtcNow(new DateTimeOffset(2026, 11, 30, 23, 59, 0, TimeSpan.Zero));
        BudgetExceededException refused = await Assert.ThrowsAsync<BudgetExceededException>(() => client.GetResponseAsync("q", For(Acme)));
        Assert.Equal(new DateTimeOffset(2026, 12, 1, 0, 0, 0, TimeSpan.Zero), refused.ResetsAt);
        _time.SetUtcNow(new DateTimeOffset(2026, 12, 1, 0, 0, 0, TimeSpan.Zero));
        _ = await client.GetResponseAsync("q", For(Acme));
    }

    [Fact]
    public async Task GetResponseAsync_RollingWindow_SpendLeavesBetweenOneAndOnePointOneDurations()
    {
        TestChatClient provider = new() { GetResponseAsyncCallback = (_, _, _) => Task.FromResult(Answer(input: 20_000, output: 1_000)) };
        using IChatClient client = Pipeline(provider, Options(limit: 0.0038m, window: BudgetWindow.Rolling, budget: b => b.RollingDuration = TimeSpan.FromHours(1)));

        _ = await client.GetResponseAsync("q", For(Acme));
        _time.Advance(TimeSpan.FromMinutes(59));
        _ = await Assert.ThrowsAsync<BudgetExceededException>(() => client.GetResponseAsync("q", For(Acme)));
        _time.Advance(TimeSpan.FromMinutes(2));
        _ = await Assert.ThrowsAsync<BudgetExceededException>(() => client.GetResponseAsync("q", For(Acme)));
        _time.Advance(TimeSpan.FromMinutes(5));
        _ = await client.GetResponseAsync("q", For(Acme));
    }

    [Fact]
    public async Task GetResponseAsync_RunawayGuard_StopsARunAfterMaxCalls()
    {
        TestChatClient provider = new() { GetResponseAsyncCallback = (_, _, _) => Task.FromResult(Answer()) };
        BudgetOptions options = new()
        {
            Budgets = { ["agent-run"] = new BudgetDefinition { Per = [CostScopeDimension.Workflow], Window = BudgetWindow.Lifetime, MaxCalls = 3, Limit = 1m } },
        };
        using IChatClient client = Pipeline(provider, options);
        CostScope run = new() { Workflow = "run-42" };

        for (int i = 0; i < 3; i++)
        {
            _ = await client.GetResponseAsync("step", For(run));
        }

        BudgetExceededException refused = await Assert.ThrowsAsync<BudgetExceededException>(() => client.GetResponseAsync("step", For(run)));
        _ = await client.GetResponseAsync("step", For(new CostScope { Workflow = "run-43" }));

        Assert.True(refused.IsCallLimit);
        Assert.Equal(3, refused.MaxCalls);
        Assert.Equal(3, refused.Calls);
        Assert.Equal(0.00135m, refused.Spent);
        Assert.Null(refused.ResetsAt);
        Assert.Equal(
            "Budget 'agent-run' for workflow=run-42 allows 3 calls and 3 have been made, costing 0.00135 so far; it is a lifetime budget and does not reset.",
            refused.Message);
    }

    [Fact]
    public async Task GetResponseAsync_SeveralBudgets_AllMustAdmit()
    {
        TestChatClient provider = new() { GetResponseAsyncCallback = (_, _, _) => Task.FromResult(Answer(input: 20_000, output: 1_000)) };
        BudgetOptions options = Options(limit: 1m);
        options.Budgets["global-hourly"] = new BudgetDefinition { Window = BudgetWindow.Hour, Limit = 0.0038m };
        using IChatClient client = Pipeline(provider, options);

        _ = await client.GetResponseAsync("q", For(Acme));
        BudgetExceededException refused = await Assert.ThrowsAsync<BudgetExceededException>(() => client.GetResponseAsync("q", For(new CostScope { Tenant = "globex" })));

        Assert.Equal("global-hourly", refused.BudgetName);
        Assert.Equal("global", refused.ScopeKey);

        // The refused call reserved nothing anywhere.
        Assert.Equal(0m, (await client.GetService<BudgetChatClient>()!.GetStatusAsync(new CostScope { Tenant = "globex" }))[1].Reserved);
    }

    [Fact]
    public async Task GetResponseAsync_NoMaxOutputTokens_SentWithTheCeiling()
    {
        TestChatClient provider = new() { GetResponseAsyncCallback = (_, _, _) => Task.FromResult(Answer()) };
        using IChatClient client = Pipeline(provider, Options());

        _ = await client.GetResponseAsync("q", For(Acme, maxOutput: null));
        Assert.Equal(1_000, provider.LastOptions!.MaxOutputTokens);

        _ = await client.GetResponseAsync("q", For(Acme, maxOutput: 5_000));
        Assert.Equal(1_000, provider.LastOptions!.MaxOutputTokens);

        _ = await client.GetResponseAsync("q", For(Acme, maxOutput: 200));
        Assert.Equal(200, provider.LastOptions!.MaxOutputTokens);
    }

    [Fact]
    public async Task GetResponseAsync_ClampOutput_LowersMaxOutputTokensToWhatIsLeft()
    {
        TestChatClient provider = new() { GetResponseAsyncCallback = (_, _, _) => Task.FromResult(Answer(input: 1_000, output: 100)) };
        BudgetExceededArguments? seen = null;
        using IChatClient client = Pipeline(provider, Options(limit: 0.0002m, budget: b => b.Action = BudgetAction.ClampOutput, more: o => o.OnBudgetExceeded = a =>
        {
            seen = a;
            return ValueTask.CompletedTask;
        }));

        _ = await client.GetResponseAsync("q", For(Acme, maxOutput: 1_000));

        // Input: 7 tokens + 10 % = 8 at $0.15 per million; the rest of $0.0002 buys 331 output tokens at $0.60.
        Assert.Equal(331, provider.LastOptions!.MaxOutputTokens);
        Assert.Equal(BudgetAction.ClampOutput, seen!.Value.Action);
        Assert.Equal(0.0002m, seen.Value.Status.Limit);
        Assert.Contains(_logs.GetSnapshot(), r => r.Id.Id == Log.BudgetDegradedEventId);
    }

    [Fact]
    public async Task GetResponseAsync_ClampOutputBelowTheMinimum_Refused()
    {
        TestChatClient provider = new() { GetResponseAsyncCallback = (_, _, _) => Task.FromResult(Answer()) };
        using IChatClient client = Pipeline(provider, Options(limit: 0.00002m, budget: b => b.Action = BudgetAction.ClampOutput));

        _ = await Assert.ThrowsAsync<BudgetExceededException>(() => client.GetResponseAsync("q", For(Acme, maxOutput: 1_000)));
        Assert.Equal(0, provider.Calls);
    }

    [Fact]
    public async Task GetResponseAsync_SwitchModel_SendsTheCallToTheFallback()
    {
        TestChatClient provider = new() { GetResponseAsyncCallback = (_, o, _) => Task.FromResult(Answer(model: o!.ModelId!)) };
        using IChatClient client = Pipeline(provider, Options(limit: 0.002m, budget: b =>
        {
            b.Action = BudgetAction.SwitchModel;
            b.FallbackModelId = "gpt-4o-mini";
        }));

        // gpt-4o's worst case ($10 per million output: $0.005) does not fit; gpt-4o-mini's does.
        ChatResponse response = await client.GetResponseAsync("q", new ChatOptions { ModelId = "gpt-4o", MaxOutputTokens = 500 }.WithCostScope(Acme));

        Assert.Equal("gpt-4o-mini", provider.LastOptions!.ModelId);
        Assert.Equal("gpt-4o-mini", Assert.Single(response.GetCostReceipt()!.Entries).ModelId);
    }

    [Fact]
    public async Task GetResponseAsync_Defer_MarksTheCallAndReservesAtBatchPrices()
    {
        TestChatClient provider = new() { GetResponseAsyncCallback = (_, _, _) => Task.FromResult(Answer()) };
        using IChatClient client = Pipeline(provider, Options(limit: 0.0002m, budget: b => b.Action = BudgetAction.Defer), meter: false);

        // The synchronous worst case ($0.0003 of output) does not fit; at the batch discount ($0.00015) it does.
        _ = await client.GetResponseAsync("q", For(Acme));

        Deferral deferral = provider.LastOptions!.GetDeferral()!;
        Assert.Equal("budget:tenant-daily", deferral.RequestedBy);
        Assert.Null(deferral.Deadline);
    }

    [Fact]
    public async Task GetResponseAsync_Allow_LetsTheCallThroughAndReportsIt()
    {
        TestChatClient provider = new() { GetResponseAsyncCallback = (_, _, _) => Task.FromResult(Answer(input: 20_000, output: 1_000)) };
        List<BudgetExceededArguments> seen = [];
        using IChatClient client = Pipeline(provider, Options(limit: 0.0038m, budget: b => b.Action = BudgetAction.Allow, more: o => o.OnBudgetExceeded = a =>
        {
            seen.Add(a);
            return ValueTask.CompletedTask;
        }));

        _ = await client.GetResponseAsync("q", For(Acme));
        _ = await client.GetResponseAsync("q", For(Acme));

        Assert.Equal(2, provider.Calls);
        BudgetExceededArguments allowed = Assert.Single(seen);
        Assert.Equal(BudgetAction.Allow, allowed.Action);
        Assert.Equal(0.0072m, (await StatusAsync(client, Acme)).Spent);
        Assert.Contains(_logs.GetSnapshot(), r => r.Id.Id == Log.BudgetAllowedOverEventId);
    }

    [Fact]
    public async Task GetResponseAsync_Thresholds_RaisedOncePerThresholdPerWindow()
    {
        TestChatClient provider = new() { GetResponseAsyncCallback = (_, _, _) => Task.FromResult(Answer(input: 0, output: 1_000)) };
        List<(double Threshold, decimal Spent)> crossed = [];
        using IChatClient client = Pipeline(provider, Options(limit: 0.003m, budget: b => b.Action = BudgetAction.Allow, more: o => o.OnThresholdCrossed = a =>
        {
            crossed.Add((a.Threshold, a.Status.Spent));
            return ValueTask.CompletedTask;
        }));

        // $0.0006 a call against $0.003: 20 %, 40 %, 60 % (50 % crossed), 80 % (80 %), 100 % (100 %), 120 %, 140 %.
        for (int i = 0; i < 7; i++)
        {
            _ = await client.GetResponseAsync("q", For(Acme));
        }

        Assert.Equal([(0.5, 0.0018m), (0.8, 0.0024m), (1.0, 0.003m)], crossed);

        // A new window starts over.
        _time.Advance(TimeSpan.FromDays(1));
        for (int i = 0; i < 3; i++)
        {
            _ = await client.GetResponseAsync("q", For(Acme));
        }

        Assert.Equal(4, crossed.Count);
    }

    [Fact]
    public async Task GetResponseAsync_Reconfigure_NewLimitTakesEffectForTheNextCall()
    {
        TestChatClient provider = new() { GetResponseAsyncCallback = (_, _, _) => Task.FromResult(Answer(input: 20_000, output: 1_000)) };
        using IChatClient client = Pipeline(provider, Options(limit: 0.0038m));
        _ = await client.GetResponseAsync("q", For(Acme));
        _ = await Assert.ThrowsAsync<BudgetExceededException>(() => client.GetResponseAsync("q", For(Acme)));

        // Acme upgrades its plan; other tenants keep the old limit.
        client.GetService<BudgetChatClient>()!.Reconfigure(Options(limit: 0.0038m, budget: b => b.ScopeLimits["acme"] = 1m));
        _ = await client.GetResponseAsync("q", For(Acme));

        Assert.Equal(1m, (await StatusAsync(client, Acme)).Limit);
        Assert.Equal(0.0038m, (await StatusAsync(client, new CostScope { Tenant = "globex" })).Limit);
    }

    [Fact]
    public async Task GetResponseAsync_NoBudgetApplies_PassesThroughUntouched()
    {
        TestChatClient provider = new() { GetResponseAsyncCallback = (_, _, _) => Task.FromResult(Answer()) };
        using IChatClient client = Pipeline(provider, Options(budget: b => b.Where[CostScopeDimension.Feature] = "chat"));
        ChatOptions options = For(Acme);

        _ = await client.GetResponseAsync("q", options);

        Assert.Equal(500, provider.LastOptions!.MaxOutputTokens);
        Assert.Equal(0, _store.CounterCount);
    }

    [Fact]
    public async Task GetResponseAsync_StoreDown_FailClosedRefuses()
    {
        TestChatClient provider = new() { GetResponseAsyncCallback = (_, _, _) => Task.FromResult(Answer()) };
        using IChatClient client = Pipeline(provider, Options(), new FailingStore());

        BudgetStoreUnavailableException refused = await Assert.ThrowsAsync<BudgetStoreUnavailableException>(() => client.GetResponseAsync("q", For(Acme)));

        Assert.Equal(0, provider.Calls);
        Assert.IsType<TimeoutException>(refused.InnerException);
        Assert.Contains("StoreFailureMode is FailClosed", refused.Message, StringComparison.Ordinal);
        Assert.Contains(_logs.GetSnapshot(), r => r.Id.Id == Log.BudgetStoreFailedClosedEventId);
    }

    [Fact]
    public async Task GetResponseAsync_StoreDown_FailOpenLetsTheCallThroughWithAWarningAndAMetric()
    {
        using ServiceProvider services = new ServiceCollection().AddMetrics().BuildServiceProvider();
        IMeterFactory factory = services.GetRequiredService<IMeterFactory>();
        using CostAwareMetrics metrics = new(factory);
        using MetricCollector<long> failures = new(factory, CostAwareTelemetry.Name, "costaware.budget.store_failures");
        TestChatClient provider = new() { GetResponseAsyncCallback = (_, _, _) => Task.FromResult(Answer()) };
        using IChatClient client = Pipeline(provider, Options(more: o => o.StoreFailureMode = BudgetStoreFailureMode.FailOpen), new FailingStore(), metrics);

        ChatResponse response = await client.GetResponseAsync("q", For(Acme));

        Assert.Equal(0.00045m, response.GetCostReceipt()!.Spent);
        Assert.Contains(_logs.GetSnapshot(), r => r.Id.Id == Log.BudgetStoreFailedOpenEventId && r.Level == LogLevel.Warning);
        CollectedMeasurement<long> failure = Assert.Single(failures.GetMeasurementSnapshot(), m => (string?)m.Tags["costaware.budget.operation"] == "reserve");
        Assert.Equal("fail_open", failure.Tags["costaware.budget.failure_mode"]);

        // What the call spent is not dropped: its settlement waits for the store and is retried until it answers.
        Assert.Contains(failures.GetMeasurementSnapshot(), m => (string?)m.Tags["costaware.budget.operation"] == "settle" && (string?)m.Tags["costaware.budget.failure_mode"] == "retried");
        Assert.Equal(1, client.GetService<BudgetChatClient>()!.PendingSettlements);
    }

    [Fact]
    public async Task GetStreamingResponseAsync_Admitted_SettlesWhatWasStreamed()
    {
        TestChatClient provider = new()
        {
            GetStreamingResponseAsyncCallback = (_, _, ct) => TestChatClient.Yield(
            [
                new ChatResponseUpdate(ChatRole.Assistant, "Hello"),
                new ChatResponseUpdate(ChatRole.Assistant, " world") { ModelId = Model },
                new ChatResponseUpdate { Contents = [new UsageContent(new UsageDetails { InputTokenCount = 1_000, OutputTokenCount = 500 })] },
            ], cancellationToken: ct),
        };
        using IChatClient client = Pipeline(provider, Options());

        List<ChatResponseUpdate> updates = await client.GetStreamingResponseAsync("q", For(Acme)).ToListAsync();

        Assert.Equal("Hello world", updates.ToChatResponse().Text);
        CostReceipt receipt = updates.Select(u => u.GetCostReceipt()).Single(r => r is not null)!;
        Assert.Equal(0.00045m, receipt.Spent);
        Assert.Equal(0.00045m, (await StatusAsync(client, Acme)).Spent);
        Assert.Equal(0m, (await StatusAsync(client, Acme)).Reserved);
    }

    [Fact]
    public async Task GetStreamingResponseAsync_RefusedWithThrowOptionOff_YieldsAnErrorUpdateAndCallsNothing()
    {
        TestChatClient provider = new() { GetStreamingResponseAsyncCallback = (_, _, ct) => TestChatClient.Yield([new ChatResponseUpdate(ChatRole.Assistant, "x")], cancellationToken: ct) };
        using IChatClient client = Pipeline(provider, Options(limit: 0.0001m, more: o => o.ThrowOnRefusedStream = false));

        ChatResponseUpdate update = Assert.Single(await client.GetStreamingResponseAsync("q", For(Acme)).ToListAsync());

        ErrorContent error = Assert.IsType<ErrorContent>(Assert.Single(update.Contents));
        Assert.Equal("budget_exceeded", error.ErrorCode);
        Assert.StartsWith("Budget 'tenant-daily' for tenant=acme has no room for this call", error.Message, StringComparison.Ordinal);
        BudgetStatus status = Assert.IsType<BudgetStatus>(error.AdditionalProperties![CostAwareProperties.BudgetStatus]);
        Assert.Equal(0.0001m, status.Limit);
        Assert.Equal(0, provider.Calls);
    }

    [Fact]
    public async Task GetStreamingResponseAsync_Refused_ThrowsByDefault()
    {
        // A consumer that only concatenates text would otherwise get an empty answer and no error.
        TestChatClient provider = new() { GetStreamingResponseAsyncCallback = (_, _, ct) => TestChatClient.Yield([], cancellationToken: ct) };
        using IChatClient client = Pipeline(provider, Options(limit: 0.0001m));

        _ = await Assert.ThrowsAsync<BudgetExceededException>(async () => await client.GetStreamingResponseAsync("q", For(Acme)).ToListAsync());
        Assert.Equal(0, provider.Calls);
    }

    [Fact]
    public async Task GetStreamingResponseAsync_RunningCostCrossesTheLimit_StoppedCleanlyAndSettledAtWhatWasProduced()
    {
        // A provider that ignores the output limit and would stream 5,000 words.
        int produced = 0;
        async IAsyncEnumerable<ChatResponseUpdate> Endless([System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken ct)
        {
            for (int i = 0; i < 5_000; i++)
            {
                await Task.Yield();
                ct.ThrowIfCancellationRequested();
                produced++;
                yield return new ChatResponseUpdate(ChatRole.Assistant, " word") { ModelId = Model };
            }
        }

        TestChatClient provider = new() { GetStreamingResponseAsyncCallback = (_, _, ct) => Endless(ct) };

        // $0.0006 buys 1,000 output tokens: the 500 reserved, then one top-up of a quarter, then no more.
        using IChatClient client = Pipeline(provider, Options(limit: 0.0006m));

        List<ChatResponseUpdate> updates = await client.GetStreamingResponseAsync("q", For(Acme, maxOutput: 500)).ToListAsync();

        ChatResponseUpdate last = updates[^1];
        ErrorContent error = Assert.IsType<ErrorContent>(Assert.Single(last.Contents));
        Assert.Equal("budget_exhausted", error.ErrorCode);
        Assert.Equal(ChatFinishReason.Length, last.FinishReason);
        Assert.True(produced < 1_000, $"produced {produced}");
        BudgetStatus status = await StatusAsync(client, Acme);
        Assert.True(status.Spent <= 0.0006m, $"spent {status.Spent}");
        Assert.Equal(last.GetCostReceipt()!.Spent, status.Spent);
        Assert.Equal(0m, status.Reserved);
        Assert.Contains(_logs.GetSnapshot(), r => r.Id.Id == Log.BudgetStreamStoppedEventId);
    }

    [Fact]
    public async Task GetStreamingResponseAsync_ConsumerStopsEarly_SettledOnce()
    {
        TestChatClient provider = new()
        {
            GetStreamingResponseAsyncCallback = (_, _, ct) => TestChatClient.Yield(
                [new ChatResponseUpdate(ChatRole.Assistant, "one") { ModelId = Model }, new ChatResponseUpdate(ChatRole.Assistant, "two")], cancellationToken: ct),
        };
        using IChatClient client = Pipeline(provider, Options());

        await foreach (ChatResponseUpdate _ in client.GetStreamingResponseAsync("q", For(Acme)))
        {
            break;
        }

        BudgetStatus status = await StatusAsync(client, Acme);
        Assert.Equal(0m, status.Reserved);
        Assert.True(status.Spent > 0m);
        Assert.Single(await _ledger.QueryAsync(CostLedgerQuery.All).ToListAsync());
    }

    [Fact]
    public async Task GetResponseAsync_64ConcurrentCallers_NeverOverspendNoFalseRefusalsAndTheLedgerReconciles()
    {
        // Each call's real cost is random, up to its reservation: 1,000 input tokens reported against an estimate of
        // 7 would overrun, so input is kept within the estimate and output within the request's limit.
        TestChatClient provider = new()
        {
            GetResponseAsyncCallback = async (_, o, _) =>
            {
                await Task.Yield();
                return Answer(input: Random.Shared.Next(0, 8), output: Random.Shared.Next(0, o!.MaxOutputTokens!.Value + 1));
            },
        };
        using IChatClient client = Pipeline(provider, Options(limit: 0.01m));
        List<BudgetExceededException> refusals = [];
        List<decimal> spent = [];

        await Parallel.ForEachAsync(Enumerable.Range(0, 64), new ParallelOptions { MaxDegreeOfParallelism = 64 }, async (i, ct) =>
        {
            for (int k = 0; k < 5; k++)
            {
                try
                {
                    ChatResponse response = await client.GetResponseAsync("q", For(Acme, maxOutput: 100 + (i * 7)), ct);
                    lock (spent)
                    {
                        spent.Add(response.GetCostReceipt()!.Spent);
                    }
                }
                catch (BudgetExceededException ex)
                {
                    lock (refusals)
                    {
                        refusals.Add(ex);
                    }
                }
            }
        });

        BudgetStatus status = await StatusAsync(client, Acme);
        Assert.True(status.Spent <= 0.01m, $"spent {status.Spent}");
        Assert.Equal(spent.Sum(), status.Spent);
        Assert.Equal(0m, status.Reserved);
        Assert.Equal(320, spent.Count + refusals.Count);
        Assert.NotEmpty(refusals);
        Assert.All(refusals, r => Assert.True(r.Spent + r.Reserved + r.Requested > r.Limit, $"false refusal: {r.Message}"));
        decimal ledger = (await _ledger.QueryAsync(CostLedgerQuery.All).ToListAsync()).Sum(r => r.Entry.Cost!.Value.Total);
        Assert.Equal(status.Spent, ledger);
    }

    private sealed class FailingStore : IBudgetStore
    {
        public ValueTask<BudgetReserveResult> ReserveAsync(ReadOnlyMemory<BudgetLine> lines, string reservationId, long amount, bool countCall, long nowMs, long timeoutMs, CancellationToken cancellationToken) =>
            ValueTask.FromException<BudgetReserveResult>(new TimeoutException("redis down"));

        public ValueTask SettleAsync(ReadOnlyMemory<BudgetLine> lines, string reservationId, long actual, long nowMs, Memory<long> windowSpent, CancellationToken cancellationToken) =>
            ValueTask.FromException(new TimeoutException("redis down"));

        public ValueTask ReadAsync(ReadOnlyMemory<BudgetLine> lines, long nowMs, Memory<BudgetCounterState> states, CancellationToken cancellationToken) =>
            ValueTask.FromException(new TimeoutException("redis down"));
    }
}

using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;

namespace CostAware.Adversarial.Tests;

// The ways the money guarantee broke in the independent probe (issue 15), each replayed through the public API: a
// budget is never exceeded, and every call the provider billed is counted once, in the budget and in the ledger.
public sealed class MoneyGuaranteeRegressionTests
{
    private const string Tenant = "acme";

    // 1. The caller whose request went to the provider cancels while another waits for the same answer: the provider
    //    bills, so the budget and the ledger count it, and the tenant is refused once its money is gone.
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task PromptCacheStampede_FirstCallerCancels_ProviderCallStillCountedAndBudgetHolds(bool secondStreams)
    {
        BillingProvider provider = new();
        TaskCompletionSource? release = null;
        TaskCompletionSource? started = null;
        provider.BeforeAnswer = async ct =>
        {
            started!.TrySetResult();
            await release!.Task.WaitAsync(ct);
        };
        await using Harness app = Harness.Create(
            Harness.TenantBudget(0.002m), b => b.UseBudget().UsePromptCache().UseTokenMetering(), provider);

        int answered = 0, refused = 0;
        for (int i = 0; i < 30; i++)
        {
            started = new(TaskCreationOptions.RunContinuationsAsynchronously);
            release = new(TaskCreationOptions.RunContinuationsAsynchronously);
            string question = $"Question number {i}: how far is the moon?";
            using CancellationTokenSource cancel = new();
            Task<ChatResponse> first = app.Client.GetResponseAsync(question, Harness.For(Tenant), cancel.Token);
            if (await Task.WhenAny(started.Task, first) != started.Task)
            {
                // Refused before the provider was asked: the budget is spent.
                _ = await Assert.ThrowsAsync<BudgetExceededException>(() => first);
                refused++;
                continue;
            }

            Task<string> second = secondStreams
                ? Collect(app.Client.GetStreamingResponseAsync(question, Harness.For(Tenant)))
                : Text(app.Client.GetResponseAsync(question, Harness.For(Tenant)));
            await Task.Delay(TimeSpan.FromMilliseconds(20), TimeProvider.System);
            await cancel.CancelAsync();
            _ = await Assert.ThrowsAnyAsync<OperationCanceledException>(() => first);
            release.SetResult();
            try
            {
                _ = await second;
                answered++;
            }
            catch (BudgetExceededException)
            {
                refused++;
            }

            _ = await app.SettledAsync(Tenant);
        }

        BudgetStatus status = await app.SettledAsync(Tenant);
        Assert.True(provider.BilledCalls > 0);
        Assert.True(refused > 0, $"the tenant was never refused: cancelled calls escaped the budget (answered {answered}, billed {provider.Billed} in {provider.BilledCalls} calls, spent {status.Spent})");
        Assert.Equal(provider.Billed, status.Spent);
        Assert.Equal(provider.Billed, await app.LedgerSpentAsync(Tenant));
        Assert.True(status.Spent <= 0.002m, $"spent {status.Spent} against a limit of 0.002");
    }

    // 2. A deferrable call that goes synchronously (no batch stage here) is billed at the full price, so it is reserved
    //    at the full price: 64 concurrent callers stay within the budget.
    [Fact]
    public async Task DeferrableCallSentSynchronously_64Callers_NeverOverspend()
    {
        await using Harness app = Harness.Create(Harness.TenantBudget(0.002m), b => b.UseBudget().UseTokenMetering());

        await Concurrently(64, i => app.Client.GetResponseAsync($"Summarise report {i}", Harness.For(Tenant).WithDeferral(Deferral.Unbounded)));

        BudgetStatus status = await app.SettledAsync(Tenant);
        Assert.True(status.Spent <= 0.002m, $"spent {status.Spent} against 0.002");
        Assert.Equal(app.Provider.Billed, status.Spent);
        Assert.Equal(app.Provider.Billed, await app.LedgerSpentAsync(Tenant));
    }

    // 2b. The budget's own Defer action reserves at the batch price; without a batch stage the call goes synchronously
    //     and is topped up to the full price before it is sent, or refused.
    [Fact]
    public async Task DeferActionWithoutBatchStage_64Callers_NeverOverspend()
    {
        Dictionary<string, string?> settings = Harness.TenantBudget(0.002m);
        settings["Budget:Budgets:tenant-daily:Action"] = "Defer";
        await using Harness app = Harness.Create(settings, b => b.UseBudget().UseTokenMetering());

        await Concurrently(64, i => app.Client.GetResponseAsync($"Summarise report {i}", Harness.For(Tenant)));

        BudgetStatus status = await app.SettledAsync(Tenant);
        Assert.True(status.Spent <= 0.002m, $"spent {status.Spent} against 0.002");
        Assert.Equal(app.Provider.Billed, status.Spent);
    }

    // 3. A provider that bills all input as one-hour cache writes (twice the input price at Anthropic): reservations
    //    price input at the dearest class, so 64 callers stay within the budget.
    [Fact]
    public async Task AllInputBilledAsCacheWrites_64Callers_NeverOverspend()
    {
        const string Model = "claude-haiku-4-5";
        BillingProvider provider = new() { ReportAllInputAsCacheWrite1h = true, OutputTokens = 10, Metadata = new("anthropic", null, Model) };
        await using Harness app = Harness.Create(Harness.TenantBudget(0.05m), b => b.UseBudget().UseTokenMetering(), provider);
        string prompt = string.Join(' ', Enumerable.Range(0, 600).Select(static i => $"clause{i}"));

        await Concurrently(64, i => app.Client.GetResponseAsync($"{i}: {prompt}", new ChatOptions { ModelId = Model, MaxOutputTokens = 10 }.WithCostScope(new CostScope { Tenant = Tenant })));

        BudgetStatus status = await app.SettledAsync(Tenant);
        Assert.True(status.Spent <= 0.05m, $"spent {status.Spent} against 0.05");
        Assert.Equal(provider.Billed, status.Spent);
        Assert.True(provider.BilledCalls > 0);
    }

    // 4. An inner stage that throws before it returns its stream (an unlisted shared partition, a null content item)
    //    releases the reservation: 98 bad requests do not lock the tenant out of its own budget.
    [Fact]
    public async Task StreamingBadRequests_ReservationsReleased_TenantNotLockedOut()
    {
        await using Harness app = Harness.Create(Harness.TenantBudget(0.05m), b => b.UseBudget().UsePromptCache().UseTokenMetering());
        ChatOptions unlisted = Harness.For(Tenant, maxOutput: 16_000).WithCacheControl(new CacheControl { SharedPartition = "not-listed" });

        for (int i = 0; i < 98; i++)
        {
            _ = await Assert.ThrowsAsync<ArgumentException>(() => Collect(app.Client.GetStreamingResponseAsync($"bad {i}", unlisted)));
        }

        Assert.Equal(0m, (await app.SettledAsync(Tenant, TimeSpan.FromSeconds(1))).Reserved);
        Assert.NotEmpty(await Collect(app.Client.GetStreamingResponseAsync("a good question", Harness.For(Tenant))));
    }

    // 5. An OnBudgetExceeded handler that honours cancellation: the reservation made for the call is released.
    [Fact]
    public async Task ExceededHandlerHonoursCancellation_ReservationReleased()
    {
        Dictionary<string, string?> settings = Harness.TenantBudget(0.0001m);
        settings["Budget:Budgets:tenant-daily:Action"] = "Allow";
        await using Harness app = Harness.Create(
            settings,
            b => b.UseBudget(o => o.OnBudgetExceeded = async args => await Task.Delay(Timeout.InfiniteTimeSpan, TimeProvider.System, args.CancellationToken)).UseTokenMetering());
        using CancellationTokenSource cancel = new(TimeSpan.FromMilliseconds(100));

        _ = await Assert.ThrowsAnyAsync<OperationCanceledException>(() => app.Client.GetResponseAsync("q", Harness.For(Tenant), cancel.Token));

        BudgetStatus status = Assert.Single(await app.Budget.GetStatusAsync(new CostScope { Tenant = Tenant }));
        Assert.Equal(0m, status.Reserved);
        Assert.Equal(0, app.Provider.Started);
    }

    // 7. A megabyte of one character under UseBudget: counting is linear, so the call is answered (or refused) at once
    //    rather than after minutes on the caller's thread.
    [Fact(Timeout = 120_000)]
    public async Task MegabyteOfOneCharacter_CountedInLinearTime()
    {
        await using Harness app = Harness.Create(Harness.TenantBudget(100m), b => b.UseBudget().UseTokenMetering());

        ChatResponse response = await Task.Run(() => app.Client.GetResponseAsync(new string('a', 1_000_000), Harness.For(Tenant)));

        Assert.True(response.GetCostReceipt()!.Spent > 0m);
    }

    // 8. MaxOutputTokens of -1 or 0 (read by some servers as "no limit") is refused; without one, the model's own output
    //    limit from the catalog is sent and reserved, not a ceiling the model would answer with a 400.
    [Theory]
    [InlineData(-1)]
    [InlineData(0)]
    public async Task MaxOutputTokensNotPositive_RefusedBeforeTheProvider(int maxOutput)
    {
        await using Harness app = Harness.Create(Harness.TenantBudget(1m), b => b.UseBudget().UseTokenMetering());

        ArgumentException error = await Assert.ThrowsAsync<ArgumentException>(
            () => app.Client.GetResponseAsync("q", new ChatOptions { MaxOutputTokens = maxOutput }.WithCostScope(new CostScope { Tenant = Tenant })));

        Assert.Contains("MaxOutputTokens", error.Message, StringComparison.Ordinal);
        Assert.Equal(0, app.Provider.Started);
    }

    [Fact]
    public async Task NoMaxOutputTokens_ModelsOwnLimitIsSent()
    {
        ChatOptions? seen = null;
        BillingProvider provider = new() { Metadata = new("anthropic", null, "claude-3-haiku") };
        provider.BeforeAnswer = _ => Task.CompletedTask;
        await using Harness app = Harness.Create(
            Harness.TenantBudget(1m), b => b.UseBudget().Use((m, o, next, ct) => { seen = o; return next(m, o, ct); }).UseTokenMetering(), provider);

        _ = await app.Client.GetResponseAsync("q", new ChatOptions { ModelId = "claude-3-haiku" }.WithCostScope(new CostScope { Tenant = Tenant }));

        Assert.Equal(4096, seen!.MaxOutputTokens);
    }

    // 9. A model the catalog cannot price (a deployment name, a fine-tune) cannot be bounded: refused by default, priced
    //    once the deployment is mapped to its model, let through (and counted in a metric) when the user allows it.
    [Fact]
    public async Task UnpricedDeployment_RefusedUntilAliased()
    {
        BillingProvider provider = new();
        await using Harness refusing = Harness.Create(Harness.TenantBudget(0.00001m), b => b.UseBudget().UseTokenMetering(), provider);
        ChatOptions deployment = new ChatOptions { ModelId = "support-gpt4o-mini", MaxOutputTokens = 20 }.WithCostScope(new CostScope { Tenant = Tenant });

        UnknownModelPriceException refused = await Assert.ThrowsAsync<UnknownModelPriceException>(() => refusing.Client.GetResponseAsync("q", deployment));
        Assert.Contains("ModelAliases", refused.Message, StringComparison.Ordinal);
        Assert.Equal(0, provider.Started);

        Dictionary<string, string?> aliased = Harness.TenantBudget(0.00001m);
        aliased["ModelAliases:support-gpt4o-mini"] = "gpt-4o-mini";
        await using Harness priced = Harness.Create(aliased, b => b.UseBudget().UseTokenMetering());
        _ = await Assert.ThrowsAsync<BudgetExceededException>(async () =>
        {
            for (int i = 0; i < 100; i++)
            {
                _ = await priced.Client.GetResponseAsync($"q{i}", deployment);
            }
        });
        BudgetStatus status = await priced.SettledAsync(Tenant);
        Assert.True(status.Spent <= 0.00001m);
        Assert.Equal(priced.Provider.Billed, status.Spent);
    }

    // 10 is in CostAware.Batching.Tests (it needs the batch API stand-in): a result without usage is estimated.

    // 11. CostAware's own keys, set by a caller: none changes what is charged, who is charged, or which partition is read.
    [Fact]
    public async Task SpoofedBatchKey_MeteredAtTheFullPrice()
    {
        await using Harness app = Harness.Create(Harness.TenantBudget(1m), b => b.UseBudget().UseTokenMetering());
        ChatOptions options = Harness.For(Tenant);
        options.AdditionalProperties!["costaware.batch"] = true;

        ChatResponse response = await app.Client.GetResponseAsync("q", options);

        Assert.False(Assert.Single(response.GetCostReceipt()!.Entries).IsBatch);
        Assert.Equal(app.Provider.Billed, response.GetCostReceipt()!.Spent);
    }

    [Fact]
    public async Task AnotherTenantsReceiptOnTheOptions_IgnoredForPartitionAndMoney()
    {
        await using Harness app = Harness.Create(Harness.TenantBudget(1m), b => b.UseBudget().UsePromptCache().UseTokenMetering());
        ChatResponse victims = await app.Client.GetResponseAsync("What is our secret plan?", Harness.For("victim"));

        ChatOptions attack = Harness.For("attacker");
        attack.AdditionalProperties![CostAwareProperties.Receipt] = victims.GetCostReceipt();
        ChatResponse attackers = await app.Client.GetResponseAsync("What is our secret plan?", attack);

        // Asked the provider itself (the victim's entry is in the victim's partition), and paid for it.
        Assert.Equal(2, app.Provider.BilledCalls);
        Assert.Equal("attacker", attackers.GetCostReceipt()!.Scope.Tenant);
        Assert.True(attackers.GetCostReceipt()!.Spent > 0m);
        _ = Assert.Single(victims.GetCostReceipt()!.Entries);
        Assert.Equal(attackers.GetCostReceipt()!.Spent, (await app.SettledAsync("attacker")).Spent);
        Assert.Equal(attackers.GetCostReceipt()!.Spent, await app.LedgerSpentAsync("attacker"));
    }

    [Fact]
    public async Task ScopeKeyAsAString_RefusedNotUnscoped()
    {
        await using Harness app = Harness.Create(Harness.TenantBudget(1m), b => b.UseBudget().UseTokenMetering());
        ChatOptions options = new() { AdditionalProperties = new() { [CostAwareProperties.Scope] = "acme" } };

        _ = await Assert.ThrowsAsync<ArgumentException>(() => app.Client.GetResponseAsync("q", options));

        Assert.Equal(0, app.Provider.Started);
    }

    // A spent tenant may still be served answers already in the cache, at no cost, when the option says so; anything
    // that would reach a provider is refused.
    [Fact]
    public async Task ServeCacheHitsWhenExhausted_HitsServedMissesRefused()
    {
        await using Harness app = Harness.Create(
            Harness.TenantBudget(0.0005m), b => b.UseBudget(o => o.ServeCacheHitsWhenExhausted = true).UsePromptCache().UseTokenMetering());
        _ = await app.Client.GetResponseAsync("known question", Harness.For(Tenant));
        for (int i = 0; app.Provider.BilledCalls < 100 && i < 100; i++)
        {
            try
            {
                _ = await app.Client.GetResponseAsync($"filler {i}", Harness.For(Tenant));
            }
            catch (BudgetExceededException)
            {
                break;
            }
        }

        int billed = app.Provider.BilledCalls;
        ChatResponse hit = await app.Client.GetResponseAsync("known question", Harness.For(Tenant));
        string streamed = await Collect(app.Client.GetStreamingResponseAsync("known question", Harness.For(Tenant)));
        _ = await Assert.ThrowsAsync<BudgetExceededException>(() => app.Client.GetResponseAsync("a new question", Harness.For(Tenant)));
        _ = await Assert.ThrowsAsync<BudgetExceededException>(() => Collect(app.Client.GetStreamingResponseAsync("another new question", Harness.For(Tenant))));

        Assert.Equal(0m, hit.GetCostReceipt()!.Spent);
        Assert.NotEmpty(streamed);
        Assert.Equal(billed, app.Provider.BilledCalls);
        BudgetStatus status = await app.SettledAsync(Tenant);
        Assert.True(status.Spent <= 0.0005m);
        Assert.Equal(app.Provider.Billed, status.Spent);
    }

    [Fact]
    public async Task ServeCacheHitsWhenExhaustedOff_HitsRefusedToo()
    {
        await using Harness app = Harness.Create(Harness.TenantBudget(0.0005m), b => b.UseBudget().UsePromptCache().UseTokenMetering());
        _ = await app.Client.GetResponseAsync("known question", Harness.For(Tenant));
        await Assert.ThrowsAsync<BudgetExceededException>(async () =>
        {
            for (int i = 0; i < 100; i++)
            {
                _ = await app.Client.GetResponseAsync($"filler {i}", Harness.For(Tenant));
            }
        });

        _ = await Assert.ThrowsAsync<BudgetExceededException>(() => app.Client.GetResponseAsync("known question", Harness.For(Tenant)));
    }

    private static async Task<string> Text(Task<ChatResponse> response) => (await response).Text;

    internal static async Task<string> Collect(IAsyncEnumerable<ChatResponseUpdate> updates)
    {
        List<ChatResponseUpdate> all = [];
        await foreach (ChatResponseUpdate update in updates)
        {
            all.Add(update);
        }

        return all.ToChatResponse().Text;
    }

    // Runs the calls at once; refusals are expected, anything else fails the test.
    internal static async Task Concurrently(int callers, Func<int, Task> call)
    {
        using SemaphoreSlim start = new(0);
        Task[] tasks = [.. Enumerable.Range(0, callers).Select(i => Task.Run(async () =>
        {
            await start.WaitAsync();
            try
            {
                await call(i);
            }
            catch (BudgetExceededException)
            {
            }
        }))];
        _ = start.Release(callers);
        await Task.WhenAll(tasks);
    }
}

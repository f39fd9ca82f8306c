using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;

namespace CostAware.Adversarial.Tests;

// Budgets counted in a real redis-server that this suite kills with SIGKILL in the middle of the traffic.
public sealed class RedisStoreFaultTests
{
    private const string Tenant = "acme";

    private static Harness App(RedisProcess redis, decimal limit, BillingProvider? provider = null, string failureMode = "FailClosed")
    {
        Dictionary<string, string?> settings = Harness.TenantBudget(limit);
        settings["Budget:StoreFailureMode"] = failureMode;
        return Harness.Create(
            settings,
            b => b.UseBudget().UseTokenMetering(),
            provider,
            (services, _) => services.AddCostAwareRedis(o =>
            {
                o.Configuration = redis.Configuration;
                o.InstanceName = "adversarial:";
            }));
    }

    // 6. Redis dies (kill -9) while 64 callers spend, and comes back: settlements that failed are retried until Redis
    //    takes them, so the budget ends holding exactly what the provider billed, and never more than its limit.
    [Fact]
    public async Task RedisKilledMidTraffic_FailClosed_SettlementsRetried_SpendEqualsBillAndStaysWithinLimit()
    {
        await using RedisProcess redis = await RedisProcess.StartAsync(persistent: true);
        BillingProvider provider = new();

        // Calls stay in flight long enough for the kill to land between their reserve and their settle.
        provider.BeforeAnswer = ct => Task.Delay(TimeSpan.FromMilliseconds(150), TimeProvider.System, ct);
        await using Harness app = App(redis, limit: 0.02m, provider);

        using CancellationTokenSource stop = new();
        int refusals = 0, storeDown = 0;
        Task traffic = MoneyGuaranteeRegressionTests.Concurrently(64, async i =>
        {
            for (int n = 0; !stop.IsCancellationRequested; n++)
            {
                try
                {
                    _ = await app.Client.GetResponseAsync($"caller {i} question {n}", Harness.For(Tenant));
                }
                catch (BudgetExceededException)
                {
                    Interlocked.Increment(ref refusals);
                    await Task.Delay(TimeSpan.FromMilliseconds(50), TimeProvider.System);
                }
                catch (BudgetStoreUnavailableException)
                {
                    Interlocked.Increment(ref storeDown);
                    await Task.Delay(TimeSpan.FromMilliseconds(50), TimeProvider.System);
                }
            }
        });

        // Let some calls reserve, then kill Redis while they are with the provider.
        while (provider.Started < 48)
        {
            await Task.Delay(TimeSpan.FromMilliseconds(10), TimeProvider.System);
        }
        await redis.KillAsync();
        await Task.Delay(TimeSpan.FromSeconds(8), TimeProvider.System);
        await redis.RestartAsync();
        await Task.Delay(TimeSpan.FromSeconds(3), TimeProvider.System);
        await stop.CancelAsync();
        await traffic;

        BudgetStatus status = await app.SettledAsync(Tenant, TimeSpan.FromSeconds(60));
        Assert.True(storeDown > 0, "the outage was never seen by a caller");
        Assert.True(provider.BilledCalls > 0);
        Assert.Equal(provider.Billed, status.Spent);
        Assert.True(status.Spent <= 0.02m, $"spent {status.Spent} against 0.02");
        Assert.Equal(provider.Billed, await app.LedgerSpentAsync(Tenant));
    }

    // 12. Tenant ids that differ only in a lone surrogate are two tenants in Redis as in memory: UTF-8 would turn both
    //     into U+FFFD and share one counter.
    [Fact]
    public async Task LoneSurrogateTenants_KeptApartInRedis()
    {
        await using RedisProcess redis = await RedisProcess.StartAsync(persistent: false);
        await using Harness app = App(redis, limit: 0.0003m);
        CostScope first = new() { Tenant = "x\uD800" };
        CostScope second = new() { Tenant = "x\uD801" };

        await Assert.ThrowsAsync<BudgetExceededException>(async () =>
        {
            for (int i = 0; i < 10; i++)
            {
                _ = await app.Client.GetResponseAsync($"q{i}", new ChatOptions { ModelId = BillingProvider.Model, MaxOutputTokens = 200 }.WithCostScope(first));
            }
        });

        // The first tenant is spent; the second has its whole budget.
        ChatResponse answer = await app.Client.GetResponseAsync("q", new ChatOptions { ModelId = BillingProvider.Model, MaxOutputTokens = 200 }.WithCostScope(second));
        Assert.True(answer.GetCostReceipt()!.Spent > 0m);
        BudgetStatus spent = Assert.Single(await app.Budget.GetStatusAsync(first));
        BudgetStatus fresh = Assert.Single(await app.Budget.GetStatusAsync(second));
        Assert.Equal(answer.GetCostReceipt()!.Spent, fresh.Spent);
        Assert.True(spent.Spent > fresh.Spent);
    }

    // Redis unreachable (killed, with the README's plain "host:port" configuration): a new question costs a few
    // milliseconds more and goes to the provider, instead of waiting for StackExchange.Redis's backlog and timeouts
    // (6 s a question through the prompt cache, 11 to 18 s with the semantic cache). The bound is a hang guard, not a
    // benchmark: it is ten times what a fail-fast miss takes on this machine.
    [Fact]
    public async Task RedisDown_CacheMissesGoToTheProviderAtOnce()
    {
        await using RedisProcess redis = await RedisProcess.StartAsync(persistent: false);
        await using Harness app = Harness.Create(
            new Dictionary<string, string?>(),
            b => b.UsePromptCache().UseSemanticCache().UseTokenMetering(),
            services: (services, _) => services.AddCostAwareRedis(o => o.Configuration = $"127.0.0.1:{redis.Port}"));
        _ = await app.Client.GetResponseAsync("a first question, while Redis is up", Harness.For(Tenant));

        await redis.KillAsync();
        long started = TimeProvider.System.GetTimestamp();
        for (int i = 0; i < 5; i++)
        {
            ChatResponse answer = await app.Client.GetResponseAsync($"new question number {i} while Redis is down", Harness.For(Tenant));
            Assert.True(answer.GetCostReceipt()!.Spent > 0m);
        }

        TimeSpan elapsed = TimeProvider.System.GetElapsedTime(started);
        Assert.True(elapsed < TimeSpan.FromSeconds(5), $"five misses took {elapsed.TotalSeconds:0.0} s with Redis down");
        Assert.Equal(6, app.Provider.BilledCalls);
    }
}

using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using CostAware.Redis.Internal;
using CostAware.Tests.TestUtilities;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using StackExchange.Redis;

namespace CostAware.Redis.Tests;

// Budgets counted in the real redis-server: one script per reserve and per settle, atomic across budgets, shared by
// every process.
[Collection(RedisTestGroup.Name)]
public sealed class BudgetRedisTests(RedisServerFixture redis)
{
    private const long Timeout = 60_000;
    private readonly string _instance = $"costaware-test-{Guid.NewGuid():N}:";

    private RedisBudgetStore Store() => new(redis.Connection, _instance);

    private static BudgetLine Line(string key, long limit, long maxCalls = -1, bool enforce = true, long expiresAtMs = 0) => new(key, [], limit, maxCalls, enforce, expiresAtMs);

    private static async Task<BudgetCounterState> ReadAsync(IBudgetStore store, BudgetLine line, long nowMs)
    {
        BudgetCounterState[] states = new BudgetCounterState[1];
        await store.ReadAsync(new[] { line }, nowMs, states, CancellationToken.None);
        return states[0];
    }

    [Fact]
    public async Task ReserveAsync_AllOrNothingAcrossBudgets()
    {
        RedisBudgetStore store = Store();
        BudgetLine[] lines = [Line("a", 100), Line("b", 50)];

        BudgetReserveResult refused = await store.ReserveAsync(lines, "r1", 60, countCall: true, 0, Timeout, CancellationToken.None);
        BudgetReserveResult admitted = await store.ReserveAsync(lines, "r2", 40, countCall: true, 0, Timeout, CancellationToken.None);

        Assert.False(refused.Admitted);
        Assert.Equal(1, refused.RefusedLine);
        Assert.True(admitted.Admitted);
        Assert.Equal(new BudgetCounterState(0, 40, 1), await ReadAsync(store, lines[0], 0));
        Assert.Equal(new BudgetCounterState(0, 40, 1), await ReadAsync(store, lines[1], 0));
    }

    [Fact]
    public async Task SettleAsync_ReleasesTheReservationAndCountsTheSpend_ReturnsWindowSpend()
    {
        RedisBudgetStore store = Store();
        BudgetLine line = Line("a", 100);
        long[] spent = new long[1];

        _ = await store.ReserveAsync(new[] { line }, "r1", 60, countCall: true, 0, Timeout, CancellationToken.None);
        await store.SettleAsync(new[] { line }, "r1", 45, 0, spent, CancellationToken.None);

        Assert.Equal(45, spent[0]);
        Assert.Equal(new BudgetCounterState(45, 0, 1), await ReadAsync(store, line, 0));
    }

    [Fact]
    public async Task ReserveAsync_CrashedReservation_LapsesAfterItsTimeout()
    {
        RedisBudgetStore store = Store();
        BudgetLine line = Line("a", 100);

        // A caller reserves and dies without settling.
        _ = await store.ReserveAsync(new[] { line }, "dead", 80, countCall: true, 0, Timeout, CancellationToken.None);
        BudgetReserveResult before = await store.ReserveAsync(new[] { line }, "r2", 30, countCall: true, Timeout - 1, Timeout, CancellationToken.None);
        BudgetReserveResult after = await store.ReserveAsync(new[] { line }, "r3", 30, countCall: true, Timeout, Timeout, CancellationToken.None);

        Assert.False(before.Admitted);
        Assert.Equal(new BudgetCounterState(0, 80, 1), before.State);
        Assert.True(after.Admitted);
        Assert.Equal(new BudgetCounterState(0, 30, 2), await ReadAsync(store, line, Timeout));
    }

    [Fact]
    public async Task ReserveAsync_CountersExpireWithTheirWindowAndShareOneHashSlot()
    {
        RedisBudgetStore store = Store();
        long expires = TimeProvider.System.GetUtcNow().AddHours(2).ToUnixTimeMilliseconds();
        BudgetLine line = Line("daily|acme|d20261124", 100, expiresAtMs: expires);

        _ = await store.ReserveAsync(new[] { line }, "r1", 10, countCall: true, 0, Timeout, CancellationToken.None);

        IDatabase db = redis.Connection.GetDatabase();
        RedisKey key = "{" + _instance + "budget}:daily|acme|d20261124";
        TimeSpan? ttl = await db.KeyTimeToLiveAsync(key);
        Assert.NotNull(ttl);
        Assert.InRange(ttl!.Value, TimeSpan.FromHours(1.9), TimeSpan.FromHours(2));
        Assert.NotNull(await db.KeyTimeToLiveAsync(key.Append(":x")));
    }

    [Fact]
    public async Task UseBudget_64ConcurrentCallersOnRedis_NeverOverspendNoFalseRefusalsAndReconcile()
    {
        ServiceCollection services = new();
        _ = services.AddCostAware(o => o.Budget.Budgets["shared"] = new BudgetDefinition { Per = [CostScopeDimension.Tenant], Window = BudgetWindow.Day, Limit = 0.01m });
        _ = services.AddCostAwareRedis(o =>
        {
            o.Configuration = redis.Configuration;
            o.InstanceName = _instance;
        });
        TestChatClient provider = new()
        {
            GetResponseAsyncCallback = async (_, o, _) =>
            {
                await Task.Yield();
                return new ChatResponse(new ChatMessage(ChatRole.Assistant, "ok"))
                {
                    ModelId = "gpt-4o-mini",
                    Usage = new UsageDetails { InputTokenCount = Random.Shared.Next(0, 8), OutputTokenCount = Random.Shared.Next(0, o!.MaxOutputTokens!.Value + 1) },
                };
            },
        };
        _ = services.AddChatClient(provider).UseBudget().UseTokenMetering();
        await using ServiceProvider built = services.BuildServiceProvider();
        IChatClient client = built.GetRequiredService<IChatClient>();
        CostScope acme = new() { Tenant = "acme" };
        List<decimal> spent = [];
        List<BudgetExceededException> refusals = [];

        await Parallel.ForEachAsync(Enumerable.Range(0, 64), new ParallelOptions { MaxDegreeOfParallelism = 64 }, async (i, ct) =>
        {
            for (int k = 0; k < 5; k++)
            {
                try
                {
                    ChatResponse response = await client.GetResponseAsync("q", new ChatOptions { ModelId = "gpt-4o-mini", MaxOutputTokens = 100 + (7 * i) }.WithCostScope(acme), ct);
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

        BudgetStatus status = Assert.Single(await client.GetService<BudgetChatClient>()!.GetStatusAsync(acme));
        Assert.True(status.Spent <= 0.01m, $"spent {status.Spent}");
        Assert.Equal(spent.Sum(), status.Spent);
        Assert.Equal(0m, status.Reserved);
        Assert.Equal(320, status.Calls + refusals.Count);
        Assert.NotEmpty(refusals);
        Assert.All(refusals, r => Assert.True(r.Spent + r.Reserved + r.Requested > r.Limit, $"false refusal: {r.Message}"));
        decimal ledger = (await built.GetRequiredService<ICostLedger>().QueryAsync(CostLedgerQuery.All).ToListAsync()).Sum(r => r.Entry.Cost!.Value.Total);
        Assert.Equal(status.Spent, ledger);
    }

    [Fact]
    public async Task UseBudget_TwoProcessesOnOneBudget_NeverOverspendAndReconcile()
    {
        const decimal limit = 0.02m;
        Task<string[]> first = RunWorkerAsync(limit);
        Task<string[]> second = RunWorkerAsync(limit);
        string[][] outputs = await Task.WhenAll(first, second);

        decimal admittedSpend = 0m;
        int admitted = 0, refused = 0;
        foreach (string[] output in outputs)
        {
            Assert.Equal("done", output[^1]);
            foreach (string line in output[..^1])
            {
                string[] parts = line.Split(' ');
                if (parts[0] == "ok")
                {
                    admitted++;
                    admittedSpend += decimal.Parse(parts[1], CultureInfo.InvariantCulture);
                }
                else
                {
                    refused++;
                    decimal sum = decimal.Parse(parts[1], CultureInfo.InvariantCulture) + decimal.Parse(parts[2], CultureInfo.InvariantCulture) + decimal.Parse(parts[3], CultureInfo.InvariantCulture);
                    Assert.True(sum > decimal.Parse(parts[4], CultureInfo.InvariantCulture), $"false refusal: {line}");
                }
            }
        }

        // The budget as a third process sees it, through the public status query on the same Redis counters.
        BudgetStatus state = Assert.Single(await (await Pipeline(redis.Configuration, "shared", limit, BudgetStoreFailureMode.FailClosed, new TestChatClient(), loggers: null))
            .GetService<BudgetChatClient>()!.GetStatusAsync(new CostScope { Tenant = "shared" }));
        Assert.Equal(2 * 32 * 6, admitted + refused);
        Assert.True(refused > 0);
        Assert.Equal(admitted, state.Calls);
        Assert.Equal(0m, state.Reserved);
        Assert.Equal(admittedSpend, state.Spent);
        Assert.True(admittedSpend <= limit, $"spent {admittedSpend}");
    }

    [Fact]
    public async Task UseBudget_RedisUnreachable_FailClosedRefusesAndFailOpenLetsThrough()
    {
        int port;
        using (TcpListener listener = new(IPAddress.Loopback, 0))
        {
            listener.Start();
            port = ((IPEndPoint)listener.LocalEndpoint).Port;
        }

        FakeLogCollector logs = new();
        using ILoggerFactory loggers = LoggerFactory.Create(b => b.AddProvider(new FakeLoggerProvider(logs)));
        TestChatClient provider = new()
        {
            GetResponseAsyncCallback = (_, _, _) => Task.FromResult(new ChatResponse(new ChatMessage(ChatRole.Assistant, "ok"))
            {
                ModelId = "gpt-4o-mini",
                Usage = new UsageDetails { InputTokenCount = 10, OutputTokenCount = 10 },
            }),
        };
        ChatOptions call = new() { ModelId = "gpt-4o-mini", MaxOutputTokens = 10 };

        // Nothing listens on the port: Redis is unreachable from the start.
        using IChatClient closed = await Pipeline($"127.0.0.1:{port}", "daily", 1m, BudgetStoreFailureMode.FailClosed, provider, loggers);
        BudgetStoreUnavailableException refused = await Assert.ThrowsAsync<BudgetStoreUnavailableException>(() => closed.GetResponseAsync("q", call));
        Assert.IsType<RedisConnectionException>(refused.InnerException);
        Assert.Equal(0, provider.Calls);

        using IChatClient open = await Pipeline($"127.0.0.1:{port}", "daily", 1m, BudgetStoreFailureMode.FailOpen, provider, loggers);
        ChatResponse response = await open.GetResponseAsync("q", call);
        Assert.Equal("ok", response.Text);
        Assert.Equal(1, provider.Calls);
        Assert.Contains(logs.GetSnapshot(), r => r.Id.Id == 34); // BudgetStoreFailedOpen
    }

    // A budget pipeline as an app builds it: AddCostAware, AddCostAwareRedis, UseBudget, UseTokenMetering.
    private Task<IChatClient> Pipeline(string configuration, string budget, decimal limit, BudgetStoreFailureMode mode, IChatClient provider, ILoggerFactory? loggers)
    {
        ServiceCollection services = new();
        services.AddCostAware(o =>
        {
            o.Budget.Budgets[budget] = new BudgetDefinition { Per = budget == "shared" ? [CostScopeDimension.Tenant] : [], Window = budget == "shared" ? BudgetWindow.Lifetime : BudgetWindow.Day, Limit = limit };
            o.Budget.StoreFailureMode = mode;
        }).AddCostAwareRedis(o =>
        {
            o.Configuration = configuration;
            o.InstanceName = _instance;
        });
        if (loggers is not null)
        {
            services.AddSingleton(loggers);
        }

        ServiceProvider built = services.BuildServiceProvider();
        return Task.FromResult(new ChatClientBuilder(provider).UseBudget().UseTokenMetering().Build(built));
    }

    private async Task<string[]> RunWorkerAsync(decimal limit)
    {
        string worker = Path.Combine(
            AppContext.BaseDirectory.Replace("CostAware.Redis.Tests", "CostAware.Redis.BudgetWorker", StringComparison.Ordinal), "CostAware.Redis.BudgetWorker.dll");
        Assert.True(File.Exists(worker), $"the worker was not built: {worker}");
        ProcessStartInfo start = new("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string argument in (string[])[worker, redis.Configuration, _instance, "32", "6", limit.ToString(CultureInfo.InvariantCulture)])
        {
            start.ArgumentList.Add(argument);
        }

        using Process process = Process.Start(start)!;
        Task<string> error = process.StandardError.ReadToEndAsync();
        string output = await process.StandardOutput.ReadToEndAsync();
        await process.WaitForExitAsync();
        Assert.True(process.ExitCode == 0, $"worker exited {process.ExitCode}: {await error}");
        return output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
    }
}

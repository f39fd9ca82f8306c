using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using BenchmarkDotNet.Attributes;
using CostAware.Internal;
using CostAware.Onnx.Internal;
using CostAware.Redis.Internal;
using StackExchange.Redis;

namespace CostAware.Benchmarks;

// What the budget stage adds to a call when budgets live in Redis: a reserve and a settle, each one Lua script and one
// round trip, against a bare INCR round trip on the same connection in the same run. Uses the redis-server named by
// COSTAWARE_TEST_REDIS (./build.sh test exports one), or starts its own from PATH.
[MemoryDiagnoser]
public class RedisBudgetBenchmark
{
    private const long Timeout = 600_000;
    private readonly long[] _windowSpent = new long[3];
    private Process? _server;
    private ConnectionMultiplexer _redis = null!;
    private IDatabase _db = null!;
    private RedisBudgetStore _store = null!;
    private BudgetLine[] _one = null!;
    private BudgetLine[] _three = null!;

    [GlobalSetup]
    public void Setup()
    {
        string? configuration = Environment.GetEnvironmentVariable("COSTAWARE_TEST_REDIS");
        if (string.IsNullOrWhiteSpace(configuration))
        {
            int port;
            using (TcpListener listener = new(IPAddress.Loopback, 0))
            {
                listener.Start();
                port = ((IPEndPoint)listener.LocalEndpoint).Port;
            }

            _server = Process.Start(new ProcessStartInfo("redis-server", $"--port {port} --bind 127.0.0.1 --save \"\" --appendonly no") { RedirectStandardOutput = true });
            configuration = $"127.0.0.1:{port}";
            Thread.Sleep(500);
        }

        _redis = ConnectionMultiplexer.Connect(configuration);
        _db = _redis.GetDatabase();
        _store = new RedisBudgetStore(_redis, $"bench-{Environment.ProcessId}:");
        long limit = BudgetMoney.ToUnitsFloor(BudgetMoney.MaxLimit);
        _one = [new BudgetLine("tenant-daily|acme|d20261124", [], limit, -1, true, 0)];
        _three = [_one[0], new BudgetLine("feature-hourly|chat|h2026112413", [], limit, -1, true, 0), new BudgetLine("app-monthly||M202611", [], limit, -1, true, 0)];
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _redis.Dispose();
        _server?.Kill();
        _server?.Dispose();
    }

    [Benchmark(Baseline = true)]
    public Task<long> BareIncrementRoundTrip() => _db.StringIncrementAsync("bench:incr");

    [Benchmark]
    public async Task<bool> ReserveSettleOneBudget()
    {
        BudgetReserveResult result = await _store.ReserveAsync(_one, "r", 301_200, countCall: true, 0, Timeout, CancellationToken.None);
        await _store.SettleAsync(_one, "r", 450, 0, _windowSpent, CancellationToken.None);
        return result.Admitted;
    }

    [Benchmark]
    public async Task<bool> ReserveSettleThreeBudgets()
    {
        BudgetReserveResult result = await _store.ReserveAsync(_three, "r", 301_200, countCall: true, 0, Timeout, CancellationToken.None);
        await _store.SettleAsync(_three, "r", 450, 0, _windowSpent, CancellationToken.None);
        return result.Admitted;
    }
}

using BenchmarkDotNet.Attributes;
using CostAware.Internal;

namespace CostAware.Benchmarks;

// What the budget stage adds to a call in one process: a reserve and a settle in the in-memory store, for one budget
// and for three budgets at once (a tenant's, a feature's and the app's), against the naive approach of one lock
// around decimal counters measured in the same run.
[MemoryDiagnoser]
public class BudgetBenchmark
{
    private const long Timeout = 600_000;
    private readonly object _gate = new();
    private readonly long[] _windowSpent = new long[3];
    private InMemoryBudgetStore _store = null!;
    private BudgetLine[] _one = null!;
    private BudgetLine[] _three = null!;
    private decimal _spent;
    private decimal _reserved;

    [GlobalSetup]
    public void Setup()
    {
        _store = new InMemoryBudgetStore();
        long limit = BudgetMoney.ToUnitsFloor(BudgetMoney.MaxLimit);
        _one = [new BudgetLine("tenant-daily|acme|d20261124", [], limit, -1, true, 0)];
        _three = [_one[0], new BudgetLine("feature-hourly|chat|h2026112413", [], limit, -1, true, 0), new BudgetLine("app-monthly||M202611", [], limit, 10_000_000_000, true, 0)];
    }

    // One lock, decimal spend and reservations: no windows, one budget, no lapse of crashed reservations.
    [Benchmark(Baseline = true)]
    public bool NaiveLockedDecimal()
    {
        bool admitted;
        lock (_gate)
        {
            admitted = _spent + _reserved + 0.0003012m <= 9_000_000m;
            if (admitted)
            {
                _reserved += 0.0003012m;
            }
        }

        lock (_gate)
        {
            _reserved -= 0.0003012m;
            _spent += 0.00000045m;
        }

        return admitted;
    }

    [Benchmark]
    public async ValueTask<bool> ReserveSettleOneBudget()
    {
        BudgetReserveResult result = await _store.ReserveAsync(_one, "r", 301_200, countCall: true, 0, Timeout, CancellationToken.None);
        await _store.SettleAsync(_one, "r", 450, 0, _windowSpent, CancellationToken.None);
        return result.Admitted;
    }

    [Benchmark]
    public async ValueTask<bool> ReserveSettleThreeBudgets()
    {
        BudgetReserveResult result = await _store.ReserveAsync(_three, "r", 301_200, countCall: true, 0, Timeout, CancellationToken.None);
        await _store.SettleAsync(_three, "r", 450, 0, _windowSpent, CancellationToken.None);
        return result.Admitted;
    }
}

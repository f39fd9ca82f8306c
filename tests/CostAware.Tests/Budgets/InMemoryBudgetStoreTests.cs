using CostAware.Internal;
using CostAware.Shared;
using CsCheck;

namespace CostAware.Tests.Budgets;

public class InMemoryBudgetStoreTests
{
    private const long Timeout = 60_000;

    private static BudgetLine Line(string key, long limit, long maxCalls = -1, bool enforce = true) => new(key, [], limit, maxCalls, enforce, 0);

    [Fact]
    public async Task ReserveAsync_OneLineRefuses_NothingIsReservedAnywhere()
    {
        InMemoryBudgetStore store = new();
        BudgetLine[] lines = [Line("a", 100), Line("b", 50)];

        BudgetReserveResult result = await store.ReserveAsync(lines, "r1", 60, countCall: true, 0, Timeout, CancellationToken.None);
        BudgetCounterState[] states = new BudgetCounterState[2];
        await store.ReadAsync(lines, 0, states, CancellationToken.None);

        Assert.False(result.Admitted);
        Assert.Equal(1, result.RefusedLine);
        Assert.Equal(new BudgetCounterState(0, 0, 0), states[0]);
        Assert.Equal(new BudgetCounterState(0, 0, 0), states[1]);
    }

    [Fact]
    public async Task SettleAsync_AfterTheReservationLapsed_StillCountsTheSpend()
    {
        InMemoryBudgetStore store = new();
        BudgetLine[] lines = [Line("a", 100)];
        long[] spent = new long[1];

        _ = await store.ReserveAsync(lines, "r1", 60, countCall: true, 0, Timeout, CancellationToken.None);
        BudgetReserveResult second = await store.ReserveAsync(lines, "r2", 60, countCall: true, Timeout, Timeout, CancellationToken.None);
        await store.SettleAsync(lines, "r1", 30, Timeout + 1, spent, CancellationToken.None);
        BudgetCounterState[] states = new BudgetCounterState[1];
        await store.ReadAsync(lines, Timeout + 1, states, CancellationToken.None);

        Assert.True(second.Admitted);
        Assert.Equal(30, spent[0]);
        Assert.Equal(new BudgetCounterState(30, 60, 2), states[0]);
    }

    [Fact]
    public async Task ReserveAsync_NotEnforcedLineOver_AdmittedAndReported()
    {
        InMemoryBudgetStore store = new();
        BudgetLine[] lines = [Line("a", 100), Line("b", 10, enforce: false)];

        BudgetReserveResult result = await store.ReserveAsync(lines, "r1", 60, countCall: true, 0, Timeout, CancellationToken.None);

        Assert.True(result.Admitted);
        Assert.Equal(0b10, result.OverMask);
    }

    [Fact]
    public async Task ReserveAsync_SameIdAgain_TopsUpWithoutCountingACall()
    {
        InMemoryBudgetStore store = new();
        BudgetLine[] lines = [Line("a", 100, maxCalls: 1)];

        _ = await store.ReserveAsync(lines, "r1", 40, countCall: true, 0, Timeout, CancellationToken.None);
        BudgetReserveResult topUp = await store.ReserveAsync(lines, "r1", 40, countCall: false, 0, Timeout, CancellationToken.None);
        BudgetReserveResult another = await store.ReserveAsync(lines, "r2", 1, countCall: true, 0, Timeout, CancellationToken.None);
        await store.SettleAsync(lines, "r1", 75, 0, new long[1], CancellationToken.None);
        BudgetCounterState[] states = new BudgetCounterState[1];
        await store.ReadAsync(lines, 0, states, CancellationToken.None);

        Assert.True(topUp.Admitted);
        Assert.False(another.Admitted);
        Assert.Equal(new BudgetCounterState(75, 0, 1), states[0]);
    }

    [Fact]
    public async Task Sweep_EndedWindowsAreDropped()
    {
        InMemoryBudgetStore store = new();
        BudgetLine old = new("old", [], 100, -1, true, ExpiresAtMs: 1_000);
        _ = await store.ReserveAsync(new[] { old }, "r1", 10, countCall: true, 0, 500, CancellationToken.None);
        await store.SettleAsync(new[] { old }, "r1", 10, 0, new long[1], CancellationToken.None);

        _ = await store.ReserveAsync(new[] { Line("new", 100) }, "r2", 10, countCall: true, 120_000, Timeout, CancellationToken.None);

        Assert.Equal(1, store.CounterCount);
    }

    // Any interleaving of reserves, settles and lapses: the counters equal a model kept by hand, and no admitted
    // reservation ever takes spent + reserved over the limit.
    [Fact]
    public async Task Operations_MatchAModel()
    {
        Gen<(int Kind, int Id, long Amount, int Advance)> operation = Gen.Select(Gen.Int[0, 2], Gen.Int[0, 7], Gen.Long[0, 40], Gen.Int[0, 30_000]);
        await operation.Array[1, 60].SampleAsync(async operations =>
        {
            InMemoryBudgetStore store = new();
            BudgetLine[] lines = [Line("k", 100)];
            Dictionary<int, (long Amount, long Expires)> live = [];
            long spent = 0, calls = 0, now = 0;
            foreach ((int kind, int id, long amount, int advance) in operations)
            {
                now += advance;
                foreach (int lapsed in live.Where(p => p.Value.Expires <= now).Select(p => p.Key).ToList())
                {
                    live.Remove(lapsed);
                }

                if (kind < 2 && !live.ContainsKey(id))
                {
                    BudgetReserveResult result = await store.ReserveAsync(lines, "r" + id, amount, countCall: true, now, Timeout, CancellationToken.None);
                    bool fits = spent + live.Values.Sum(v => v.Amount) + amount <= 100;
                    if (result.Admitted != fits)
                    {
                        return false;
                    }

                    if (fits)
                    {
                        live[id] = (amount, now + Timeout);
                        calls++;
                    }
                }
                else if (kind == 2)
                {
                    long actual = amount / 2;
                    await store.SettleAsync(lines, "r" + id, actual, now, new long[1], CancellationToken.None);
                    live.Remove(id);
                    spent += actual;
                }

                BudgetCounterState[] states = new BudgetCounterState[1];
                await store.ReadAsync(lines, now, states, CancellationToken.None);
                if (states[0] != new BudgetCounterState(spent, live.Values.Sum(v => v.Amount), calls))
                {
                    return false;
                }
            }

            return true;
        });
    }

    [Fact]
    public async Task ReserveAsync_ManyThreadsAcrossOverlappingBudgets_NeverOverReservesOrDeadlocks()
    {
        InMemoryBudgetStore store = new();
        BudgetLine shared = Line("shared", 10_000);
        BudgetLine[][] calls = [[shared, Line("t1", 4_000)], [Line("t2", 4_000), shared], [shared]];
        long admitted = 0;

        await Parallel.ForEachAsync(Enumerable.Range(0, 2_000), new ParallelOptions { MaxDegreeOfParallelism = 16 }, async (i, ct) =>
        {
            BudgetLine[] lines = calls[i % 3];
            BudgetReserveResult result = await store.ReserveAsync(lines, "r" + i, 7, countCall: true, 0, Timeout, ct);
            if (result.Admitted)
            {
                _ = Interlocked.Add(ref admitted, 7);
            }
        });

        BudgetCounterState[] states = new BudgetCounterState[1];
        await store.ReadAsync(new[] { shared }, 0, states, CancellationToken.None);
        Assert.Equal(admitted, states[0].Reserved);
        Assert.True(states[0].Reserved <= 10_000);
        Assert.True(states[0].Reserved > 10_000 - 7);
    }
}

using System.Buffers;
using System.Collections.Concurrent;

namespace CostAware.Internal;

// Budget counters for one process. Each counter has its own lock; an operation locks the counters of all its lines in
// one global order (creation order), so that it is atomic across budgets and concurrent calls never deadlock. Nothing
// is allocated per call once a counter exists: the counter's reservations live in a dictionary that keeps its capacity.
internal sealed class InMemoryBudgetStore : IBudgetStore
{
    private const long SweepIntervalMs = 60_000;

    private readonly ConcurrentDictionary<string, Counter> _counters = new(StringComparer.Ordinal);
    private long _nextOrder;
    private long _nextSweepMs;

    public int CounterCount => _counters.Count;

    public ValueTask<BudgetReserveResult> ReserveAsync(
        ReadOnlyMemory<BudgetLine> lines, string reservationId, long amount, bool countCall, long nowMs, long timeoutMs, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        SweepIfDue(nowMs);
        ReadOnlySpan<BudgetLine> span = lines.Span;
        using Locked locked = LockAll(span, nowMs);
        Counter[] byLine = locked.ByLine;
        long overMask = 0;
        int at = 0;
        for (int i = 0; i < span.Length; i++)
        {
            BudgetLine line = span[i];
            BudgetCounterState state = Sum(byLine, at, 1 + line.WindowKeys.Length);
            at += 1 + line.WindowKeys.Length;
            bool overMoney = line.Limit >= 0 && state.Spent + state.Reserved + amount > line.Limit;
            bool overCalls = countCall && line.MaxCalls >= 0 && state.Calls + 1 > line.MaxCalls;
            if (overMoney || overCalls)
            {
                if (line.Enforce)
                {
                    return new ValueTask<BudgetReserveResult>(BudgetReserveResult.Refuse(i, state));
                }

                if (i < 64)
                {
                    overMask |= 1L << i;
                }
            }
        }

        at = 0;
        for (int i = 0; i < span.Length; i++)
        {
            BudgetLine line = span[i];
            byLine[at].Reserve(reservationId, amount, countCall, nowMs + timeoutMs, line.ExpiresAtMs);
            at += 1 + line.WindowKeys.Length;
        }

        return new ValueTask<BudgetReserveResult>(BudgetReserveResult.Admit(overMask));
    }

    public ValueTask SettleAsync(
        ReadOnlyMemory<BudgetLine> lines, string reservationId, long actual, long nowMs, Memory<long> windowSpent, CancellationToken cancellationToken)
    {
        // Not cancellable: the money was spent, and a settlement skipped would be money never counted.
        ReadOnlySpan<BudgetLine> span = lines.Span;
        Span<long> spentOut = windowSpent.Span;
        using (Locked locked = LockAll(span, nowMs))
        {
            int at = 0;
            for (int i = 0; i < span.Length; i++)
            {
                BudgetLine line = span[i];
                locked.ByLine[at].Settle(reservationId, actual, line.ExpiresAtMs);
                if (i < spentOut.Length)
                {
                    spentOut[i] = Sum(locked.ByLine, at, 1 + line.WindowKeys.Length).Spent;
                }

                at += 1 + line.WindowKeys.Length;
            }
        }

        return ValueTask.CompletedTask;
    }

    public ValueTask ReadAsync(ReadOnlyMemory<BudgetLine> lines, long nowMs, Memory<BudgetCounterState> states, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        ReadOnlySpan<BudgetLine> span = lines.Span;
        Span<BudgetCounterState> output = states.Span;
        for (int i = 0; i < span.Length && i < output.Length; i++)
        {
            BudgetLine line = span[i];
            long spent = 0, reserved = 0, calls = 0;
            for (int k = -1; k < line.WindowKeys.Length; k++)
            {
                if (_counters.TryGetValue(k < 0 ? line.ChargeKey : line.WindowKeys[k], out Counter? counter))
                {
                    lock (counter)
                    {
                        counter.Reap(nowMs);
                        spent += counter.Spent;
                        reserved += counter.Reserved;
                        calls += counter.Calls;
                    }
                }
            }

            output[i] = new BudgetCounterState(spent, reserved, calls);
        }

        return ValueTask.CompletedTask;
    }

    private static int CountCounters(ReadOnlySpan<BudgetLine> lines)
    {
        int total = 0;
        foreach (BudgetLine line in lines)
        {
            total += 1 + line.WindowKeys.Length;
        }

        return total;
    }

    private static BudgetCounterState Sum(Counter[] counters, int start, int count)
    {
        long spent = 0, reserved = 0, calls = 0;
        for (int k = start; k < start + count; k++)
        {
            spent += counters[k].Spent;
            reserved += counters[k].Reserved;
            calls += counters[k].Calls;
        }

        return new BudgetCounterState(spent, reserved, calls);
    }

    // Locks every counter the lines touch, in creation order. A counter the sweeper removed between the lookup and the
    // lock is looked up again, so an update never lands on a counter that is no longer in the dictionary. The arrays
    // are pooled: nothing is allocated per call.
    private Locked LockAll(ReadOnlySpan<BudgetLine> lines, long nowMs)
    {
        int total = CountCounters(lines);
        Counter[] byLine = ArrayPool<Counter>.Shared.Rent(total);
        Counter[] locked = ArrayPool<Counter>.Shared.Rent(total);
        while (true)
        {
            int at = 0;
            foreach (BudgetLine line in lines)
            {
                byLine[at++] = GetOrAdd(line.ChargeKey);
                foreach (string key in line.WindowKeys)
                {
                    byLine[at++] = GetOrAdd(key);
                }
            }

            Array.Copy(byLine, locked, total);
            for (int i = 1; i < total; i++)
            {
                Counter c = locked[i];
                int j = i - 1;
                while (j >= 0 && locked[j].Order > c.Order)
                {
                    locked[j + 1] = locked[j];
                    j--;
                }

                locked[j + 1] = c;
            }

            bool removed = false;
            for (int i = 0; i < total; i++)
            {
                Monitor.Enter(locked[i]);
                removed |= locked[i].Removed;
            }

            if (!removed)
            {
                for (int i = 0; i < total; i++)
                {
                    locked[i].Reap(nowMs);
                }

                return new Locked(byLine, locked, total);
            }

            UnlockAll(locked, total);
        }
    }

    // The counters of one operation, locked; disposing unlocks them and returns the pooled arrays.
    private readonly ref struct Locked(Counter[] byLine, Counter[] locked, int total)
    {
        public Counter[] ByLine => byLine;

        public void Dispose()
        {
            UnlockAll(locked, total);
            ArrayPool<Counter>.Shared.Return(byLine, clearArray: true);
            ArrayPool<Counter>.Shared.Return(locked, clearArray: true);
        }
    }

    private static void UnlockAll(Counter[] locked, int total)
    {
        for (int i = total - 1; i >= 0; i--)
        {
            Monitor.Exit(locked[i]);
        }
    }

    private Counter GetOrAdd(string key) =>
        _counters.TryGetValue(key, out Counter? counter) ? counter : _counters.GetOrAdd(key, static (_, store) => new Counter(Interlocked.Increment(ref store._nextOrder)), this);

    // Counters of windows that have ended are dropped once a minute, unless a reservation on them is still live.
    private void SweepIfDue(long nowMs)
    {
        long due = Volatile.Read(ref _nextSweepMs);
        if (nowMs < due || Interlocked.CompareExchange(ref _nextSweepMs, nowMs + SweepIntervalMs, due) != due)
        {
            return;
        }

        foreach (KeyValuePair<string, Counter> pair in _counters)
        {
            Counter counter = pair.Value;
            lock (counter)
            {
                counter.Reap(nowMs);
                if (counter.ExpiresAtMs != 0 && counter.ExpiresAtMs <= nowMs && counter.Reserved == 0)
                {
                    counter.Removed = true;
                    _ = _counters.TryRemove(pair);
                }
            }
        }
    }

    private sealed class Counter(long order)
    {
        private Dictionary<string, Reservation>? _live;
        private long _nextExpiryMs = long.MaxValue;

        public long Order { get; } = order;

        public long Spent { get; private set; }

        public long Reserved { get; private set; }

        public long Calls { get; private set; }

        public long ExpiresAtMs { get; private set; }

        public bool Removed { get; set; }

        public void Reserve(string id, long amount, bool countCall, long reservationExpiresMs, long counterExpiresMs)
        {
            _live ??= new Dictionary<string, Reservation>(StringComparer.Ordinal);
            ref Reservation slot = ref System.Runtime.InteropServices.CollectionsMarshal.GetValueRefOrAddDefault(_live, id, out _);
            slot = new Reservation(slot.Amount + amount, reservationExpiresMs);
            Reserved += amount;
            if (countCall)
            {
                Calls++;
            }

            _nextExpiryMs = Math.Min(_nextExpiryMs, reservationExpiresMs);
            ExpiresAtMs = counterExpiresMs;
        }

        public void Settle(string id, long actual, long counterExpiresMs)
        {
            if (_live is not null && _live.Remove(id, out Reservation reservation))
            {
                Reserved -= reservation.Amount;
            }

            Spent += actual;
            ExpiresAtMs = counterExpiresMs;
        }

        // Drops reservations whose caller never settled them (a crash, a lost process).
        public void Reap(long nowMs)
        {
            if (nowMs < _nextExpiryMs || _live is null)
            {
                return;
            }

            long next = long.MaxValue;
            foreach (KeyValuePair<string, Reservation> pair in _live)
            {
                if (pair.Value.ExpiresAtMs <= nowMs)
                {
                    Reserved -= pair.Value.Amount;
                    _ = _live.Remove(pair.Key);
                }
                else
                {
                    next = Math.Min(next, pair.Value.ExpiresAtMs);
                }
            }

            _nextExpiryMs = next;
        }
    }

    private readonly record struct Reservation(long Amount, long ExpiresAtMs);
}

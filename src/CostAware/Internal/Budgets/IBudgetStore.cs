namespace CostAware.Internal.Budgets;

// Where budget counters live: memory for one process, Redis for many. Money is in nano-units (1e-9 of the catalog's
// currency) so that every store can add it exactly as 64-bit integers (Redis's Lua numbers are exact to 2^53, which is
// nine million currency units; limits above that are rejected at configuration).
//
// A counter holds settled spend, the sum of live reservations, and a call count. Reserve is atomic across all the
// lines of a call: every enforced line must fit (spent + reserved + amount <= limit, calls + 1 <= max calls), or
// nothing is reserved. A reservation that is not settled within its timeout is dropped by the next operation that
// touches its counter, so a crashed caller's reservation never pins a budget. Settle releases the reservation (if it
// is still live) and adds the actual spend, whether or not the reservation expired: money spent is always counted.
internal interface IBudgetStore
{
    ValueTask<BudgetReserveResult> ReserveAsync(
        ReadOnlyMemory<BudgetLine> lines, string reservationId, long amount, bool countCall, long nowMs, long timeoutMs, CancellationToken cancellationToken);

    // windowSpent receives, per line, the settled spend over the line's whole window after this settlement.
    ValueTask SettleAsync(
        ReadOnlyMemory<BudgetLine> lines, string reservationId, long actual, long nowMs, Memory<long> windowSpent, CancellationToken cancellationToken);

    ValueTask ReadAsync(ReadOnlyMemory<BudgetLine> lines, long nowMs, Memory<BudgetCounterState> states, CancellationToken cancellationToken);
}

// One budget as it applies to one call. ChargeKey is the counter that takes the reservation and the spend; WindowKeys
// are the earlier buckets of a rolling window, read but not charged. Limit and MaxCalls are -1 for none.
// ExpiresAtMs is when the counter may be dropped (0: never).
internal readonly record struct BudgetLine(string ChargeKey, string[] WindowKeys, long Limit, long MaxCalls, bool Enforce, long ExpiresAtMs);

internal readonly record struct BudgetCounterState(long Spent, long Reserved, long Calls);

// Admitted, or the first enforced line that refused with its window's state. OverMask has bit i set for a line that is
// not enforced and went over its limit (the Allow action).
internal readonly record struct BudgetReserveResult(bool Admitted, int RefusedLine, BudgetCounterState State, long OverMask)
{
    public static BudgetReserveResult Admit(long overMask) => new(true, -1, default, overMask);

    public static BudgetReserveResult Refuse(int line, BudgetCounterState state) => new(false, line, state, 0);
}

using System.Diagnostics.CodeAnalysis;

namespace CostAware;

/// <summary>
/// Where budget counters live: this process's memory (the default), Redis for several processes, or a store of your
/// own. The budget stage reserves, settles and reads through it; a store only has to keep counters atomically.
/// </summary>
/// <remarks>
/// <para>
/// Money is in nano-units (10⁻⁹ of the catalog's currency), so that every store adds it exactly as 64-bit integers.
/// A counter holds settled spend, the sum of live reservations, and a call count.
/// </para>
/// <para>
/// <see cref="ReserveAsync"/> is atomic across all the lines of a call: every enforced line must fit
/// (spent + reserved + amount ≤ limit, calls + 1 ≤ max calls), or nothing is reserved. Reserving again under the same
/// reservation id adds to that reservation (a top-up). A reservation that is not settled within its timeout is dropped
/// by the next operation that touches its counter, so a crashed caller never pins a budget.
/// <see cref="SettleAsync"/> releases the reservation (if it is still live) and adds the actual spend whether or not the
/// reservation expired: money spent is always counted. A store that can fail should make a settlement idempotent by
/// reservation id, because the budget stage retries a settlement it got no answer for until the store takes it.
/// </para>
/// <para>Implementations are thread-safe.</para>
/// </remarks>
[Experimental("CAEXP001")]
public interface IBudgetStore
{
    /// <summary>Reserves an amount in every line of a call, or in none.</summary>
    /// <param name="lines">The call's budget lines.</param>
    /// <param name="reservationId">The call's reservation id; reserving again under it adds to the reservation.</param>
    /// <param name="amount">The amount, in nano-units.</param>
    /// <param name="countCall">Whether this reservation counts one call against each line's call limit.</param>
    /// <param name="nowMs">Now, in Unix milliseconds.</param>
    /// <param name="timeoutMs">How long the reservation lives unless settled, in milliseconds.</param>
    /// <param name="cancellationToken">Cancels the reservation before it is made.</param>
    /// <returns>Admitted, or the first enforced line that refused, with its state.</returns>
    ValueTask<BudgetReserveResult> ReserveAsync(
        ReadOnlyMemory<BudgetLine> lines, string reservationId, long amount, bool countCall, long nowMs, long timeoutMs, CancellationToken cancellationToken);

    /// <summary>Releases a reservation and counts what the call actually spent.</summary>
    /// <param name="lines">The call's budget lines.</param>
    /// <param name="reservationId">The reservation to release.</param>
    /// <param name="actual">The money spent, in nano-units.</param>
    /// <param name="nowMs">Now, in Unix milliseconds.</param>
    /// <param name="windowSpent">Receives, per line, the settled spend over the line's whole window after this settlement.</param>
    /// <param name="cancellationToken">Not honoured once the settlement is under way: money spent must be counted.</param>
    /// <returns>A task that completes when the store has applied the settlement.</returns>
    ValueTask SettleAsync(
        ReadOnlyMemory<BudgetLine> lines, string reservationId, long actual, long nowMs, Memory<long> windowSpent, CancellationToken cancellationToken);

    /// <summary>Reads the state of lines over their windows.</summary>
    /// <param name="lines">The lines.</param>
    /// <param name="nowMs">Now, in Unix milliseconds.</param>
    /// <param name="states">Receives one state per line.</param>
    /// <param name="cancellationToken">Cancels the read.</param>
    /// <returns>A task that completes when the states are written.</returns>
    ValueTask ReadAsync(ReadOnlyMemory<BudgetLine> lines, long nowMs, Memory<BudgetCounterState> states, CancellationToken cancellationToken);
}

/// <summary>One budget as it applies to one call.</summary>
/// <param name="ChargeKey">The counter that takes the reservation and the spend.</param>
/// <param name="WindowKeys">The earlier buckets of a rolling window: read, not charged. Empty for calendar windows.</param>
/// <param name="Limit">The money limit in nano-units, or -1 for none.</param>
/// <param name="MaxCalls">The call limit, or -1 for none.</param>
/// <param name="Enforce">Whether the line refuses (false: it only reports going over).</param>
/// <param name="ExpiresAtMs">When the counter may be dropped, in Unix milliseconds (0: never).</param>
[Experimental("CAEXP001")]
public readonly record struct BudgetLine(string ChargeKey, string[] WindowKeys, long Limit, long MaxCalls, bool Enforce, long ExpiresAtMs);

/// <summary>The state of one budget line over its window.</summary>
/// <param name="Spent">Settled spend, in nano-units.</param>
/// <param name="Reserved">The sum of live reservations, in nano-units.</param>
/// <param name="Calls">Calls counted.</param>
[Experimental("CAEXP001")]
public readonly record struct BudgetCounterState(long Spent, long Reserved, long Calls);

/// <summary>The outcome of a reservation.</summary>
/// <param name="Admitted">Whether the amount was reserved in every line.</param>
/// <param name="RefusedLine">The first enforced line that refused, or -1.</param>
/// <param name="State">The refusing line's state when refused.</param>
/// <param name="OverMask">Bit i set for a line that is not enforced and went over its limit.</param>
[Experimental("CAEXP001")]
public readonly record struct BudgetReserveResult(bool Admitted, int RefusedLine, BudgetCounterState State, long OverMask)
{
    /// <summary>An admission.</summary>
    /// <param name="overMask">Bit i set for a line that is not enforced and went over its limit.</param>
    /// <returns>The result.</returns>
    public static BudgetReserveResult Admit(long overMask) => new(true, -1, default, overMask);

    /// <summary>A refusal by one line.</summary>
    /// <param name="line">The refusing line.</param>
    /// <param name="state">Its state.</param>
    /// <returns>The result.</returns>
    public static BudgetReserveResult Refuse(int line, BudgetCounterState state) => new(false, line, state, 0);
}

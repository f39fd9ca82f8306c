namespace CostAware;

/// <summary>
/// A ledger that sums where its rows are: spend, money avoided, calls and tokens by a scope dimension, model and time
/// bucket. The SQLite, PostgreSQL and in-memory ledgers implement it; <see cref="CostLedgerAggregation"/> sums any
/// ledger's rows in memory.
/// </summary>
public interface ICostLedgerAggregates
{
    /// <summary>
    /// Sums spend, money avoided, calls and tokens, grouped by a scope dimension (or none), by model, and by a time bucket
    /// in a time zone. Tokens are of real provider calls only: a cache hit's tokens are what it avoided, never added to
    /// what was spent.
    /// </summary>
    /// <param name="query">What to sum and how to group it.</param>
    /// <param name="cancellationToken">The token to monitor for cancellation requests.</param>
    /// <returns>One row per group, in bucket, then key, then model order (or the largest spend first with <see cref="CostLedgerAggregateQuery.Top"/>).</returns>
    /// <exception cref="ArgumentNullException"><paramref name="query"/> is <see langword="null"/>.</exception>
    Task<IReadOnlyList<CostLedgerAggregate>> AggregateAsync(CostLedgerAggregateQuery query, CancellationToken cancellationToken = default);
}

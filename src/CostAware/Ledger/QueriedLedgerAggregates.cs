namespace CostAware;

// Aggregates for a ledger that cannot sum itself: its rows queried by the filter and summed in memory.
internal sealed class QueriedLedgerAggregates(ICostLedger ledger) : ICostLedgerAggregates
{
    public Task<IReadOnlyList<CostLedgerAggregate>> AggregateAsync(CostLedgerAggregateQuery query, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(query);
        return CostLedgerAggregation.AggregateAsync(ledger.QueryAsync(query.Filter ?? CostLedgerQuery.All, cancellationToken), query, cancellationToken);
    }
}

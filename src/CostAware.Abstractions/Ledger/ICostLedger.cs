namespace CostAware;

/// <summary>
/// Where every cost receipt is recorded, for attribution and reports.
/// </summary>
/// <remarks>Implementations must be safe to call from many threads at once.</remarks>
public interface ICostLedger
{
    /// <summary>Records every entry of a receipt.</summary>
    /// <param name="receipt">The receipt.</param>
    /// <param name="cancellationToken">The token to monitor for cancellation requests.</param>
    /// <returns>A task that completes when the receipt is recorded.</returns>
    ValueTask RecordAsync(CostReceipt receipt, CancellationToken cancellationToken = default);

    /// <summary>Reads the recorded rows that match a query, oldest first.</summary>
    /// <param name="query">The filter.</param>
    /// <param name="cancellationToken">The token to monitor for cancellation requests.</param>
    /// <returns>The matching rows.</returns>
    IAsyncEnumerable<CostLedgerRecord> QueryAsync(CostLedgerQuery query, CancellationToken cancellationToken = default);
}

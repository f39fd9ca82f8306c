namespace CostAware;

/// <summary>
/// A ledger that writes off the request path through a bounded buffer (the SQLite and PostgreSQL ledgers): what health
/// checks and dashboards watch, and how to wait until what was recorded is stored.
/// </summary>
public interface IBufferedCostLedger : ICostLedger
{
    /// <summary>Gets how many receipts the buffer holds before recording waits for room.</summary>
    int Capacity { get; }

    /// <summary>Gets how many receipts wait in the buffer to be written.</summary>
    long Buffered { get; }

    /// <summary>Gets how many receipts were dropped because the buffer stayed full.</summary>
    long Dropped { get; }

    /// <summary>Gets since when writing has failed (the batch is kept and retried), or <see langword="null"/> while writes succeed.</summary>
    DateTimeOffset? FailingSince { get; }

    /// <summary>Waits until every receipt recorded before this call is stored.</summary>
    /// <param name="cancellationToken">Cancels the wait (not the writing).</param>
    /// <returns>A task that completes when they are.</returns>
    Task FlushAsync(CancellationToken cancellationToken = default);

    /// <summary>Checks that the database answers now (for health checks); it writes nothing.</summary>
    /// <param name="cancellationToken">The token to monitor for cancellation requests.</param>
    /// <returns>A task that completes when the database answered, and faults when it cannot be reached.</returns>
    Task PingAsync(CancellationToken cancellationToken = default);
}

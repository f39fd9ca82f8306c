using System.Diagnostics.Metrics;

namespace CostAware;

/// <summary>How a ledger that writes off the request path (<see cref="IBufferedCostLedger"/>) buffers and writes.</summary>
public abstract class BufferedCostLedgerOptions
{
    /// <summary>Gets or sets how many receipts the buffer holds before recording waits for room.</summary>
    /// <value>The default value is 10,000.</value>
    public int Capacity { get; set; } = 10_000;

    /// <summary>Gets or sets the most receipts written in one transaction or statement.</summary>
    public int BatchSize { get; set; } = 256;

    /// <summary>
    /// Gets or sets how long recording waits for room in a full buffer before it drops the receipt (logged, and counted in
    /// <see cref="IBufferedCostLedger.Dropped"/> and the metric <c>costaware.ledger.dropped</c>). Zero drops at once.
    /// </summary>
    /// <value>The default value is 1 second.</value>
    public TimeSpan FullWait { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// Gets or sets how long disposing the ledger (the app's shutdown) keeps retrying a database that cannot be written
    /// before it drops what is still buffered (logged and counted in <see cref="IBufferedCostLedger.Dropped"/>), so that
    /// a database that stays down never holds the shutdown forever.
    /// </summary>
    /// <value>The default value is 10 seconds.</value>
    public TimeSpan DisposeTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Gets or sets the meter factory the ledger's metrics are created with; a meter of its own when <see langword="null"/>.</summary>
    public IMeterFactory? MeterFactory { get; set; }

    /// <summary>Gets or sets the clock the writer's retry pauses follow; <see cref="TimeProvider.System"/> when <see langword="null"/>.</summary>
    public TimeProvider? TimeProvider { get; set; }
}

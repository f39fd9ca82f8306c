namespace CostAware;

/// <summary>Where a <see cref="SqliteCostLedger"/> keeps its file and how its writer behaves.</summary>
public sealed class SqliteCostLedgerOptions
{
    /// <summary>Gets or sets the database file (created if missing).</summary>
    public string Path { get; set; } = "costaware-ledger.db";

    /// <summary>Gets or sets how many receipts the buffer holds before <see cref="SqliteCostLedger.RecordAsync"/> waits.</summary>
    /// <value>The default value is 10,000.</value>
    public int Capacity { get; set; } = 10_000;

    /// <summary>Gets or sets the most receipts written in one transaction.</summary>
    /// <value>The default value is 256.</value>
    public int BatchSize { get; set; } = 256;

    /// <summary>
    /// Gets or sets how long <see cref="SqliteCostLedger.RecordAsync"/> waits for room in a full buffer before it drops the
    /// receipt (logged, and counted in <see cref="SqliteCostLedger.Dropped"/>). Zero drops at once.
    /// </summary>
    /// <value>The default value is 1 second.</value>
    public TimeSpan FullWait { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>Gets or sets the meter factory the ledger's metrics are created with; a meter of its own when <see langword="null"/>.</summary>
    public System.Diagnostics.Metrics.IMeterFactory? MeterFactory { get; set; }

    /// <summary>Gets or sets the clock the writer's retry pauses follow; <see cref="TimeProvider.System"/> when <see langword="null"/>.</summary>
    public TimeProvider? TimeProvider { get; set; }
}

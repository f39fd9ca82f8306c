namespace CostAware;

/// <summary>Where a <see cref="SqliteCostLedger"/> keeps its file and how its writer behaves.</summary>
/// <remarks><see cref="BufferedCostLedgerOptions.BatchSize"/> defaults to 256 receipts a transaction.</remarks>
public sealed class SqliteCostLedgerOptions : BufferedCostLedgerOptions
{
    /// <summary>Gets or sets the database file (created if missing).</summary>
    public string Path { get; set; } = "costaware-ledger.db";
}

namespace CostAware;

/// <summary>Where a <see cref="PostgreSqlCostLedger"/> keeps its rows and how its writer behaves.</summary>
/// <remarks><see cref="BufferedCostLedgerOptions.BatchSize"/> defaults to 512 receipts a statement.</remarks>
public sealed class PostgreSqlCostLedgerOptions : BufferedCostLedgerOptions
{
    /// <summary>Initializes a new instance of the <see cref="PostgreSqlCostLedgerOptions"/> class.</summary>
    public PostgreSqlCostLedgerOptions() => BatchSize = 512;

    /// <summary>Gets or sets the Npgsql connection string (ignored when the ledger is given an <c>NpgsqlDataSource</c>).</summary>
    public string? ConnectionString { get; set; }

    /// <summary>Gets or sets the database schema the ledger's tables are in (created if missing).</summary>
    /// <value>The default value is <c>costaware</c>.</value>
    public string Schema { get; set; } = "costaware";
}

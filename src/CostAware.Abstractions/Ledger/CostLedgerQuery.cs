namespace CostAware;

/// <summary>A filter over cost-ledger rows; every property left <see langword="null"/> matches anything.</summary>
/// <remarks>Instances are immutable and safe to share between threads.</remarks>
public sealed record class CostLedgerQuery
{
    /// <summary>Gets a query that matches every row.</summary>
    public static CostLedgerQuery All { get; } = new();

    /// <summary>Gets the scope filter: every dimension set here must be equal on the row.</summary>
    /// <value>The default value is <see langword="null"/>.</value>
    public CostScope? Scope { get; init; }

    /// <summary>Gets the model id the row must have (ordinal, case-insensitive).</summary>
    /// <value>The default value is <see langword="null"/>.</value>
    public string? ModelId { get; init; }

    /// <summary>Gets the provider the row must have (ordinal, case-insensitive).</summary>
    /// <value>The default value is <see langword="null"/>.</value>
    public string? Provider { get; init; }

    /// <summary>Gets the kind of entry the row must be.</summary>
    /// <value>The default value is <see langword="null"/>.</value>
    public CostEntryKind? Kind { get; init; }

    /// <summary>Gets the earliest timestamp included (inclusive).</summary>
    /// <value>The default value is <see langword="null"/>.</value>
    public DateTimeOffset? From { get; init; }

    /// <summary>Gets the timestamp before which rows are included (exclusive).</summary>
    /// <value>The default value is <see langword="null"/>.</value>
    public DateTimeOffset? To { get; init; }

    /// <summary>Returns whether a row passes this filter.</summary>
    /// <param name="record">The row.</param>
    /// <returns><see langword="true"/> when the row matches every set criterion.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="record"/> is <see langword="null"/>.</exception>
    public bool Matches(CostLedgerRecord record)
    {
        ArgumentNullException.ThrowIfNull(record);
        CostReceiptEntry entry = record.Entry;
        return (Scope is null || record.Scope.Matches(Scope))
            && (ModelId is null || string.Equals(ModelId, entry.ModelId, StringComparison.OrdinalIgnoreCase))
            && (Provider is null || string.Equals(Provider, entry.Provider, StringComparison.OrdinalIgnoreCase))
            && (Kind is null || Kind == entry.Kind)
            && (From is null || entry.Timestamp >= From)
            && (To is null || entry.Timestamp < To);
    }
}

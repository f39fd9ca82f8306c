namespace CostAware;

/// <summary>How <see cref="ICostLedgerAggregates.AggregateAsync"/> buckets time.</summary>
public enum CostLedgerBucket
{
    /// <summary>No time buckets: one row per key and model.</summary>
    None = 0,

    /// <summary>Hours of the query's time zone.</summary>
    Hour = 1,

    /// <summary>Days of the query's time zone.</summary>
    Day = 2,

    /// <summary>Months of the query's time zone.</summary>
    Month = 3,
}

/// <summary>What <see cref="ICostLedgerAggregates.AggregateAsync"/> sums, and how it groups.</summary>
public sealed record class CostLedgerAggregateQuery
{
    /// <summary>Gets the scope dimension rows are grouped by (for example <see cref="CostScopeDimension.Tenant"/>), or <see langword="null"/> for none.</summary>
    public CostScopeDimension? GroupBy { get; init; }

    /// <summary>Gets a value indicating whether rows are also grouped by model.</summary>
    public bool ByModel { get; init; }

    /// <summary>Gets the time bucket.</summary>
    public CostLedgerBucket Bucket { get; init; }

    /// <summary>Gets the time zone buckets follow (a day is that zone's day); UTC when <see langword="null"/>.</summary>
    public TimeZoneInfo? TimeZone { get; init; }

    /// <summary>Gets which entries are summed; all when <see langword="null"/>.</summary>
    public CostLedgerQuery? Filter { get; init; }

    /// <summary>Gets how many rows to keep, the largest spend first (top spenders), or <see langword="null"/> for all.</summary>
    public int? Top { get; init; }
}

/// <summary>One group's sums.</summary>
public sealed record class CostLedgerAggregate
{
    /// <summary>Gets the group's value of the grouping dimension (<see langword="null"/>: not grouped, or entries without one).</summary>
    public string? Key { get; init; }

    /// <summary>Gets the group's model, when grouped by model.</summary>
    public string? ModelId { get; init; }

    /// <summary>Gets the start of the group's time bucket, in the query's time zone; <see cref="DateTimeOffset.MinValue"/> without buckets.</summary>
    public DateTimeOffset BucketStart { get; init; }

    /// <summary>Gets the money spent (provider calls and embeddings), in US dollars.</summary>
    public decimal Spent { get; init; }

    /// <summary>Gets the money cache hits avoided, in US dollars.</summary>
    public decimal Avoided { get; init; }

    /// <summary>Gets the number of real provider calls.</summary>
    public long Calls { get; init; }

    /// <summary>Gets the number of cache hits.</summary>
    public long CacheHits { get; init; }

    /// <summary>Gets the input tokens of real calls (cache hits' tokens are in <see cref="AvoidedTokens"/>, never here).</summary>
    public long InputTokens { get; init; }

    /// <summary>Gets the output tokens of real calls.</summary>
    public long OutputTokens { get; init; }

    /// <summary>Gets the tokens cache hits did not spend.</summary>
    public long AvoidedTokens { get; init; }

    /// <summary>
    /// Gets what the providers' own prompt caches saved, net of write premiums, at the prices the calls were metered at
    /// (see <see cref="CostReceiptEntry.ProviderCacheSaved"/>).
    /// </summary>
    public decimal ProviderCacheSaved { get; init; }

    /// <summary>Adds another group's sums to this one's (its key, model and bucket are kept).</summary>
    /// <param name="other">The other group.</param>
    /// <returns>The sums of both.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="other"/> is <see langword="null"/>.</exception>
    public CostLedgerAggregate Add(CostLedgerAggregate other) => other is null ? throw new ArgumentNullException(nameof(other)) : this with
    {
        Spent = Spent + other.Spent,
        Avoided = Avoided + other.Avoided,
        Calls = Calls + other.Calls,
        CacheHits = CacheHits + other.CacheHits,
        InputTokens = InputTokens + other.InputTokens,
        OutputTokens = OutputTokens + other.OutputTokens,
        AvoidedTokens = AvoidedTokens + other.AvoidedTokens,
        ProviderCacheSaved = ProviderCacheSaved + other.ProviderCacheSaved,
    };
}

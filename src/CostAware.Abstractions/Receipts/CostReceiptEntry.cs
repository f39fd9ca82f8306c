namespace CostAware;

/// <summary>
/// One line of a <see cref="CostReceipt"/>: a provider call, a cache hit or an embedding call, with its tokens and money.
/// </summary>
/// <remarks>
/// A cache hit spends nothing: its <see cref="Cost"/> is zero and <see cref="CostAvoided"/> says what the answer
/// would have cost. Instances are immutable and safe to share between threads.
/// </remarks>
public sealed record class CostReceiptEntry
{
    /// <summary>Gets what this entry records.</summary>
    public required CostEntryKind Kind { get; init; }

    /// <summary>Gets the model that served (or would have served) the call, or <see langword="null"/> when unknown.</summary>
    public string? ModelId { get; init; }

    /// <summary>Gets the provider, as the client's metadata names it, or <see langword="null"/> when unknown.</summary>
    public string? Provider { get; init; }

    /// <summary>Gets the tokens by class.</summary>
    public TokenCounts Tokens { get; init; }

    /// <summary>Gets the catalog entry the money was computed from, or <see langword="null"/> when the model is unpriced.</summary>
    public ModelPrice? Price { get; init; }

    /// <summary>Gets the money spent, by token class, or <see langword="null"/> when the model is unpriced (cost unknown, not zero).</summary>
    public CostBreakdown? Cost { get; init; }

    /// <summary>Gets the money avoided (for cache hits), or <see langword="null"/>.</summary>
    public decimal? CostAvoided { get; init; }

    /// <summary>Gets a value indicating whether the token counts were estimated because the provider reported none.</summary>
    public bool IsEstimated { get; init; }

    /// <summary>Gets a value indicating whether the call was billed at batch prices.</summary>
    public bool IsBatch { get; init; }

    /// <summary>
    /// Gets where <see cref="Cost"/> comes from: the token counts at the catalog's prices, or the cost the provider (or
    /// the app) reported for this very call under <see cref="CostAwareProperties.ReportedCost"/>.
    /// </summary>
    public CostSource CostSource { get; init; }

    /// <summary>Gets when the entry was recorded.</summary>
    public DateTimeOffset Timestamp { get; init; }

    /// <summary>Gets the stage that recorded the entry (for example <c>metering</c>).</summary>
    public string? Stage { get; init; }

    /// <summary>
    /// Gets what the provider's own prompt cache saved on this call, at the catalog's prices: its cache reads at the
    /// input price less what they cost, net of the premium its cache writes paid over the input price (negative when
    /// the writes cost more than the reads saved). Zero when nothing was cached; <see langword="null"/> for an entry that
    /// is not a priced provider call.
    /// </summary>
    public decimal? ProviderCacheSaved =>
        Kind == CostEntryKind.ProviderCall && Price is { } price
            ? price.CalculateCost(Tokens with { CachedInput = 0, CacheWrite = 0, CacheWrite1h = 0 }, IsBatch).Total - price.CalculateCost(Tokens, IsBatch).Total
            : null;
}

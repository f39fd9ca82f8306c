namespace CostAware;

/// <summary>A long-context tier as configuration gives it, in US dollars per million tokens.</summary>
/// <remarks>This type is a mutable bag for binding; it is not thread-safe.</remarks>
public sealed class LongContextTierOptions
{
    /// <summary>Gets or sets the threshold: the tier applies when input tokens are strictly greater. Required.</summary>
    /// <value>The default value is <see langword="null"/>.</value>
    public long? AboveInputTokens { get; set; }

    /// <summary>Gets or sets the price of uncached input tokens in this tier. Required.</summary>
    /// <value>The default value is <see langword="null"/>.</value>
    public decimal? Input { get; set; }

    /// <summary>Gets or sets the price of cached input tokens in this tier.</summary>
    /// <value>The default value is <see langword="null"/>: billed as <see cref="Input"/>.</value>
    public decimal? CachedInput { get; set; }

    /// <summary>Gets or sets the price of cache writes in this tier.</summary>
    /// <value>The default value is <see langword="null"/>: billed as <see cref="Input"/>.</value>
    public decimal? CacheWrite { get; set; }

    /// <summary>Gets or sets the price of one-hour cache writes in this tier.</summary>
    /// <value>The default value is <see langword="null"/>: billed as <see cref="CacheWrite"/>.</value>
    public decimal? CacheWrite1h { get; set; }

    /// <summary>Gets or sets the price of output tokens in this tier. Required.</summary>
    /// <value>The default value is <see langword="null"/>.</value>
    public decimal? Output { get; set; }

    /// <summary>Gets or sets the price of reasoning tokens in this tier.</summary>
    /// <value>The default value is <see langword="null"/>: billed as <see cref="Output"/>.</value>
    public decimal? Reasoning { get; set; }
}

namespace CostAware;

/// <summary>
/// One model's prices as configuration or a JSON price file gives them, in US dollars per million tokens.
/// </summary>
/// <remarks>
/// <para>
/// Batch prices: when <see cref="BatchInput"/> and <see cref="BatchOutput"/> are set, every input-side class is
/// scaled by <c>BatchInput / Input</c> and reasoning by <c>BatchOutput / Output</c>, in the standard prices and in
/// every long-context tier (providers discount every class alike). When they are not set, batch calls are billed
/// at the synchronous prices.
/// </para>
/// <para>This type is a mutable bag for binding; it is not thread-safe.</para>
/// </remarks>
public sealed class ModelPriceOptions
{
    /// <summary>Gets or sets the provider (for example <c>openai</c>).</summary>
    /// <value>The default value is <see langword="null"/>: required when the entry is new, inherited when it overrides a known model.</value>
    public string? Provider { get; set; }

    /// <summary>Gets or sets other names of the model (dated snapshots, provider-prefixed ids).</summary>
    /// <value>The default value is empty.</value>
    public IList<string> Aliases { get; set; } = [];

    /// <summary>Gets or sets the date from which the prices apply.</summary>
    /// <value>The default value is <see langword="null"/>.</value>
    public DateOnly? EffectiveDate { get; set; }

    /// <summary>Gets or sets where the prices came from.</summary>
    /// <value>The default value is <see langword="null"/>: the loader records the file or configuration path.</value>
    public string? Source { get; set; }

    /// <summary>Gets or sets the most output tokens the model produces in one call; budgets reserve (and ask for) no more.</summary>
    /// <value>The default value is <see langword="null"/>: unknown, or the overridden entry's.</value>
    public int? MaxOutputTokens { get; set; }

    /// <summary>Gets or sets the price of uncached input tokens. Required.</summary>
    /// <value>The default value is <see langword="null"/>.</value>
    public decimal? Input { get; set; }

    /// <summary>Gets or sets the price of cached input tokens (cache reads).</summary>
    /// <value>The default value is <see langword="null"/>: billed as <see cref="Input"/>.</value>
    public decimal? CachedInput { get; set; }

    /// <summary>Gets or sets the price of cache writes (five-minute tier).</summary>
    /// <value>The default value is <see langword="null"/>: billed as <see cref="Input"/>.</value>
    public decimal? CacheWrite { get; set; }

    /// <summary>Gets or sets the price of one-hour cache writes.</summary>
    /// <value>The default value is <see langword="null"/>: billed as <see cref="CacheWrite"/>.</value>
    public decimal? CacheWrite1h { get; set; }

    /// <summary>Gets or sets the price of output tokens. Required.</summary>
    /// <value>The default value is <see langword="null"/>.</value>
    public decimal? Output { get; set; }

    /// <summary>Gets or sets the price of reasoning tokens when priced apart from output.</summary>
    /// <value>The default value is <see langword="null"/>: billed as <see cref="Output"/>.</value>
    public decimal? Reasoning { get; set; }

    /// <summary>Gets or sets the batch price of uncached input tokens.</summary>
    /// <value>The default value is <see langword="null"/>: no batch prices.</value>
    public decimal? BatchInput { get; set; }

    /// <summary>Gets or sets the batch price of output tokens.</summary>
    /// <value>The default value is <see langword="null"/>: no batch prices.</value>
    public decimal? BatchOutput { get; set; }

    /// <summary>Gets or sets the long-context tiers.</summary>
    /// <value>The default value is empty.</value>
    public IList<LongContextTierOptions> LongContext { get; set; } = [];
}

namespace CostAware;

/// <summary>
/// The list prices of one model: synchronous, batch and long-context, with where they came from and since when.
/// </summary>
/// <remarks>
/// <para>
/// The cost of a call is computed by <see cref="CalculateCost(TokenCounts, bool)"/>, which prices each token class
/// as a subset (see <see cref="TokenCounts"/>) so that nothing is counted twice.
/// </para>
/// <para>Instances are immutable and safe to share between threads.</para>
/// </remarks>
public sealed record class ModelPrice
{
    // Multiplying by 10^-6 is exact for decimals and several times faster than dividing by 10^6.
    private const decimal PerToken = 0.000001m;

    /// <summary>Initializes a new instance of the <see cref="ModelPrice"/> class.</summary>
    /// <param name="modelId">The model id, as the provider names it (for example <c>gpt-4o</c>).</param>
    /// <param name="provider">The provider (for example <c>openai</c>).</param>
    /// <param name="standard">The synchronous prices.</param>
    /// <exception cref="ArgumentNullException">An argument is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException"><paramref name="modelId"/> or <paramref name="provider"/> is empty or white space.</exception>
    public ModelPrice(string modelId, string provider, TokenPrices standard)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(modelId);
        ArgumentException.ThrowIfNullOrWhiteSpace(provider);
        ArgumentNullException.ThrowIfNull(standard);
        ModelId = modelId;
        Provider = provider;
        Standard = standard;
    }

    /// <summary>Gets the model id.</summary>
    public string ModelId { get; }

    /// <summary>Gets the provider that sells the model at these prices.</summary>
    public string Provider { get; }

    /// <summary>Gets the synchronous prices.</summary>
    public TokenPrices Standard { get; }

    /// <summary>Gets the batch-API prices.</summary>
    /// <value>The default value is <see langword="null"/>: the model has no batch prices and batch calls are billed at <see cref="Standard"/>.</value>
    public TokenPrices? Batch { get; init; }

    /// <summary>Gets the long-context tiers, in any order; the tier with the highest threshold below the call's input applies.</summary>
    /// <value>The default value is empty.</value>
    public IReadOnlyList<LongContextTier> LongContext { get; init => field = value ?? []; } = [];

    /// <summary>Gets other names of the model: dated snapshots and provider-prefixed ids (for example <c>openai/gpt-4o</c>).</summary>
    /// <value>The default value is empty.</value>
    public IReadOnlyList<string> Aliases { get; init => field = value ?? []; } = [];

    /// <summary>Gets the most output tokens the model produces in one call, or <see langword="null"/> when unknown.</summary>
    /// <value>The default value is <see langword="null"/> (unknown).</value>
    /// <remarks>The budget stage reserves (and asks for) no more output than this, so that a model with a low limit is never sent a larger one.</remarks>
    public int? MaxOutputTokens
    {
        get;
        init
        {
            if (value is <= 0)
            {
                throw new ArgumentOutOfRangeException(nameof(value), value, "A model's output limit must be positive.");
            }

            field = value;
        }
    }

    /// <summary>Gets the date from which these prices apply.</summary>
    /// <value>The default value is <see langword="null"/> (unknown).</value>
    public DateOnly? EffectiveDate { get; init; }

    /// <summary>Gets where these prices came from (a price list, a file, configuration).</summary>
    /// <value>The default value is <see langword="null"/> (unknown).</value>
    public string? Source { get; init; }

    /// <summary>Returns the prices that apply to a call with the given input size.</summary>
    /// <param name="inputTokens">All input tokens of the call.</param>
    /// <param name="batch"><see langword="true"/> for a call made through a provider's batch API.</param>
    /// <returns>The prices to bill the call at.</returns>
    public TokenPrices SelectPrices(long inputTokens, bool batch)
    {
        LongContextTier? tier = null;
        foreach (LongContextTier candidate in LongContext)
        {
            if (inputTokens > candidate.AboveInputTokens && (tier is null || candidate.AboveInputTokens > tier.AboveInputTokens))
            {
                tier = candidate;
            }
        }

        if (tier is null)
        {
            return batch ? Batch ?? Standard : Standard;
        }

        return batch ? tier.Batch ?? tier.Prices : tier.Prices;
    }

    /// <summary>
    /// Calculates the most a call with this many input and output tokens can cost, whatever classes the provider bills
    /// them in: every input token at the dearest input class (a one-hour cache write costs twice the input price at
    /// Anthropic) and every output token at the dearer of output and reasoning.
    /// </summary>
    /// <param name="inputTokens">The input tokens.</param>
    /// <param name="outputTokens">The output tokens.</param>
    /// <param name="batch"><see langword="true"/> for a call made through a provider's batch API.</param>
    /// <returns>The worst-case cost, in US dollars.</returns>
    /// <exception cref="ArgumentOutOfRangeException">A count is negative.</exception>
    public decimal CalculateWorstCaseCost(long inputTokens, long outputTokens, bool batch = false)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(inputTokens);
        ArgumentOutOfRangeException.ThrowIfNegative(outputTokens);
        TokenPrices prices = SelectPrices(inputTokens, batch);
        decimal input = Math.Max(Math.Max(prices.Input, prices.EffectiveCachedInput), Math.Max(prices.EffectiveCacheWrite, prices.EffectiveCacheWrite1h));
        decimal output = Math.Max(prices.Output, prices.EffectiveReasoning);
        return ((inputTokens * input) + (outputTokens * output)) * PerToken;
    }

    /// <summary>Computes what a call cost at these prices.</summary>
    /// <param name="tokens">The call's tokens by class.</param>
    /// <param name="batch"><see langword="true"/> for a call made through a provider's batch API.</param>
    /// <returns>The cost by token class, exact.</returns>
    /// <exception cref="ArgumentException"><paramref name="tokens"/> is not <see cref="TokenCounts.IsConsistent">consistent</see>.</exception>
    public CostBreakdown CalculateCost(TokenCounts tokens, bool batch = false)
    {
        if (!tokens.IsConsistent)
        {
            ThrowHelper.ThrowInconsistentTokens(tokens);
        }

        TokenPrices prices = SelectPrices(tokens.Input, batch);
        return new CostBreakdown
        {
            Input = tokens.UncachedInput * prices.Input * PerToken,
            CachedInput = tokens.CachedInput * prices.EffectiveCachedInput * PerToken,
            CacheWrite = ((tokens.CacheWrite * prices.EffectiveCacheWrite) + (tokens.CacheWrite1h * prices.EffectiveCacheWrite1h)) * PerToken,
            Output = tokens.VisibleOutput * prices.Output * PerToken,
            Reasoning = tokens.Reasoning * prices.EffectiveReasoning * PerToken,
        };
    }
}

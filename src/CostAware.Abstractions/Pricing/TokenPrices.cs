namespace CostAware;

/// <summary>
/// Prices of each token class for one model and one pricing mode, in US dollars per million tokens.
/// </summary>
/// <remarks>
/// <para>
/// A class left <see langword="null"/> is billed like its parent class: cached input and cache writes like
/// <see cref="Input"/>, one-hour cache writes like <see cref="CacheWrite"/>, reasoning like <see cref="Output"/>.
/// That matches providers that do not price the class apart (OpenAI charges nothing extra to write its prompt cache).
/// </para>
/// <para>Instances are immutable and safe to share between threads.</para>
/// </remarks>
public sealed record class TokenPrices
{
    /// <summary>Initializes a new instance of the <see cref="TokenPrices"/> class.</summary>
    /// <param name="input">The price of uncached input tokens, per million.</param>
    /// <param name="output">The price of output tokens, per million.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="input"/> or <paramref name="output"/> is negative.</exception>
    public TokenPrices(decimal input, decimal output)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(input);
        ArgumentOutOfRangeException.ThrowIfNegative(output);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(input, MaxPrice);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(output, MaxPrice);
        Input = input;
        Output = output;
    }

    /// <summary>
    /// The highest price accepted for any token class, in US dollars per million tokens: a dollar a token. Anything higher
    /// is a typo (per token instead of per million, a misplaced decimal point) and would overflow the cost arithmetic.
    /// </summary>
    public const decimal MaxPrice = 1_000_000m;

    /// <summary>Gets the price of uncached input tokens, in USD per million tokens.</summary>
    public decimal Input { get; }

    /// <summary>Gets the price of input tokens read from the provider's prompt cache, in USD per million tokens.</summary>
    /// <value>The default value is <see langword="null"/>: billed as <see cref="Input"/>.</value>
    public decimal? CachedInput { get; init => field = CheckPrice(value); }

    /// <summary>Gets the price of input tokens written to the provider's prompt cache (the five-minute tier where a provider has two), in USD per million tokens.</summary>
    /// <value>The default value is <see langword="null"/>: billed as <see cref="Input"/>.</value>
    public decimal? CacheWrite { get; init => field = CheckPrice(value); }

    /// <summary>Gets the price of input tokens written to the provider's one-hour prompt cache, in USD per million tokens.</summary>
    /// <value>The default value is <see langword="null"/>: billed as <see cref="CacheWrite"/>.</value>
    public decimal? CacheWrite1h { get; init => field = CheckPrice(value); }

    /// <summary>Gets the price of output tokens, in USD per million tokens.</summary>
    public decimal Output { get; }

    /// <summary>Gets the price of reasoning tokens when a provider prices them apart from output, in USD per million tokens.</summary>
    /// <value>The default value is <see langword="null"/>: billed as <see cref="Output"/>.</value>
    public decimal? Reasoning { get; init => field = CheckPrice(value); }

    /// <summary>Gets the price actually charged for cached input tokens.</summary>
    public decimal EffectiveCachedInput => CachedInput ?? Input;

    /// <summary>Gets the price actually charged for five-minute cache writes.</summary>
    public decimal EffectiveCacheWrite => CacheWrite ?? Input;

    /// <summary>Gets the price actually charged for one-hour cache writes.</summary>
    public decimal EffectiveCacheWrite1h => CacheWrite1h ?? EffectiveCacheWrite;

    /// <summary>Gets the price actually charged for reasoning tokens.</summary>
    public decimal EffectiveReasoning => Reasoning ?? Output;

    /// <summary>Returns these prices with every class multiplied by the given factors.</summary>
    /// <param name="inputFactor">The factor applied to every input-side class.</param>
    /// <param name="outputFactor">The factor applied to output and reasoning.</param>
    /// <returns>The scaled prices.</returns>
    /// <exception cref="ArgumentOutOfRangeException">A factor is negative.</exception>
    public TokenPrices Scale(decimal inputFactor, decimal outputFactor)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(inputFactor);
        ArgumentOutOfRangeException.ThrowIfNegative(outputFactor);
        return new TokenPrices(Input * inputFactor, Output * outputFactor)
        {
            CachedInput = CachedInput * inputFactor,
            CacheWrite = CacheWrite * inputFactor,
            CacheWrite1h = CacheWrite1h * inputFactor,
            Reasoning = Reasoning * outputFactor,
        };
    }

    private static decimal? CheckPrice(decimal? value)
    {
        if (value is < 0m or > MaxPrice)
        {
            ThrowHelper.ThrowPriceOutOfRange(value.GetValueOrDefault());
        }

        return value;
    }
}

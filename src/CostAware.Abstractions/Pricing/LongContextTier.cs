namespace CostAware;

/// <summary>
/// Prices that apply to a whole call when its input exceeds a token threshold (for example Anthropic's and Google's
/// "prompts above 200k tokens" prices).
/// </summary>
/// <remarks>Instances are immutable and safe to share between threads.</remarks>
public sealed record class LongContextTier
{
    /// <summary>Initializes a new instance of the <see cref="LongContextTier"/> class.</summary>
    /// <param name="aboveInputTokens">The tier applies when the call's input token count is strictly greater than this.</param>
    /// <param name="prices">The synchronous prices of the tier.</param>
    /// <param name="batch">The batch prices of the tier, or <see langword="null"/> when the model has no batch prices.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="aboveInputTokens"/> is not positive.</exception>
    /// <exception cref="ArgumentNullException"><paramref name="prices"/> is <see langword="null"/>.</exception>
    public LongContextTier(long aboveInputTokens, TokenPrices prices, TokenPrices? batch = null)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(aboveInputTokens);
        ArgumentNullException.ThrowIfNull(prices);
        AboveInputTokens = aboveInputTokens;
        Prices = prices;
        Batch = batch;
    }

    /// <summary>Gets the threshold: the tier applies when input tokens are strictly greater than it.</summary>
    public long AboveInputTokens { get; }

    /// <summary>Gets the synchronous prices of the tier.</summary>
    public TokenPrices Prices { get; }

    /// <summary>Gets the batch prices of the tier, or <see langword="null"/> when the model has no batch prices.</summary>
    public TokenPrices? Batch { get; }
}

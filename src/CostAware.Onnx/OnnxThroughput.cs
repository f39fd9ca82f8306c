namespace CostAware;

/// <summary>
/// What a local chat model has done so far: prompt tokens read and answer tokens written, and the time spent on each.
/// From it <see cref="ToPrice"/> turns an hourly hardware cost into a price per token for the metering stage.
/// </summary>
/// <param name="PromptTokens">Prompt tokens fed to the model.</param>
/// <param name="PrefillTime">Time spent feeding prompts.</param>
/// <param name="OutputTokens">Answer tokens generated.</param>
/// <param name="DecodeTime">Time spent generating answers, after the first token of each batch.</param>
public sealed record OnnxThroughput(long PromptTokens, TimeSpan PrefillTime, long OutputTokens, TimeSpan DecodeTime)
{
    /// <summary>Gets the prompt tokens read per second, or 0 before any.</summary>
    public double PromptTokensPerSecond => PrefillTime > TimeSpan.Zero ? PromptTokens / PrefillTime.TotalSeconds : 0;

    /// <summary>Gets the answer tokens written per second, or 0 before any.</summary>
    public double OutputTokensPerSecond => DecodeTime > TimeSpan.Zero ? OutputTokens / DecodeTime.TotalSeconds : 0;

    /// <summary>
    /// Turns an amortised hardware cost per hour (purchase spread over its life, power, hosting) into prices per million
    /// tokens: each kind of token costs the time it takes at the measured rate. Register the result under the model id
    /// (<c>CostAwareOptions.Prices</c>) so that receipts of local calls carry a real cost.
    /// </summary>
    /// <param name="costPerHour">The hardware's cost per hour, in US dollars.</param>
    /// <param name="provider">The provider name recorded with the price.</param>
    /// <returns>The price options: <see cref="ModelPriceOptions.Input"/> and <see cref="ModelPriceOptions.Output"/> per million tokens, rounded to 6 decimals.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="costPerHour"/> is negative.</exception>
    /// <exception cref="InvalidOperationException">Nothing was measured yet: run a few representative requests first.</exception>
    public ModelPriceOptions ToPrice(decimal costPerHour, string provider = "onnxruntime")
    {
        ArgumentOutOfRangeException.ThrowIfNegative(costPerHour);
        if (PromptTokensPerSecond <= 0 || OutputTokensPerSecond <= 0)
        {
            throw new InvalidOperationException("No throughput was measured yet: run representative requests through the model before pricing it.");
        }

        decimal perSecond = costPerHour / 3600m;
        return new ModelPriceOptions
        {
            Provider = provider,
            Input = decimal.Round(perSecond / (decimal)PromptTokensPerSecond * 1_000_000m, 6),
            Output = decimal.Round(perSecond / (decimal)OutputTokensPerSecond * 1_000_000m, 6),
            Source = string.Create(
                System.Globalization.CultureInfo.InvariantCulture,
                $"amortised hardware cost {costPerHour} USD/h at {PromptTokensPerSecond:F0} prompt and {OutputTokensPerSecond:F1} answer tokens/s"),
        };
    }
}

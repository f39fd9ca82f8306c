using System.Diagnostics.CodeAnalysis;
using System.Globalization;

namespace CostAware;

internal static class ThrowHelper
{
    [DoesNotReturn]
    public static void ThrowPriceOutOfRange(decimal value) =>
        throw new ArgumentOutOfRangeException(nameof(value), value, "A price per million tokens must be between 0 and TokenPrices.MaxPrice (1,000,000).");

    [DoesNotReturn]
    public static void ThrowInconsistentTokens(TokenCounts tokens) =>
        throw new ArgumentException(
            string.Create(
                CultureInfo.InvariantCulture,
                $"Token counts are inconsistent: {tokens}. Counts must be non-negative, cached and cache-write tokens must fit in Input, and Reasoning must fit in Output."),
            nameof(tokens));
}

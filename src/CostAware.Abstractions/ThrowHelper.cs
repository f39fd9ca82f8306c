using System.Diagnostics.CodeAnalysis;
using System.Globalization;

namespace CostAware;

internal static class ThrowHelper
{
    [DoesNotReturn]
    public static void ThrowNegativePrice(decimal value) =>
        throw new ArgumentOutOfRangeException(nameof(value), value, "A price per million tokens cannot be negative.");

    [DoesNotReturn]
    public static void ThrowInconsistentTokens(TokenCounts tokens) =>
        throw new ArgumentException(
            string.Create(
                CultureInfo.InvariantCulture,
                $"Token counts are inconsistent: {tokens}. Counts must be non-negative, cached and cache-write tokens must fit in Input, and Reasoning must fit in Output."),
            nameof(tokens));
}

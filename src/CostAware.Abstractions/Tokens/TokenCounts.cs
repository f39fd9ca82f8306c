using System.Runtime.InteropServices;

namespace CostAware;

/// <summary>
/// The tokens of one call, by the classes that providers price apart.
/// </summary>
/// <remarks>
/// <para>
/// The classes are subsets, as Microsoft.Extensions.AI defines <c>UsageDetails</c>: <see cref="CachedInput"/>,
/// <see cref="CacheWrite"/> and <see cref="CacheWrite1h"/> are part of <see cref="Input"/>, and
/// <see cref="Reasoning"/> is part of <see cref="Output"/>. Nothing is ever counted twice.
/// </para>
/// </remarks>
[StructLayout(LayoutKind.Auto)]
public readonly record struct TokenCounts
{
    /// <summary>Gets all input tokens of the call, cached and cache-write tokens included.</summary>
    public long Input { get; init; }

    /// <summary>Gets the input tokens read from the provider's prompt cache (a subset of <see cref="Input"/>).</summary>
    public long CachedInput { get; init; }

    /// <summary>Gets the input tokens written to the provider's prompt cache, five-minute tier (a subset of <see cref="Input"/>).</summary>
    public long CacheWrite { get; init; }

    /// <summary>Gets the input tokens written to the provider's one-hour prompt cache (a subset of <see cref="Input"/>).</summary>
    public long CacheWrite1h { get; init; }

    /// <summary>Gets all output tokens of the call, reasoning tokens included.</summary>
    public long Output { get; init; }

    /// <summary>Gets the reasoning ("thinking") tokens (a subset of <see cref="Output"/>).</summary>
    public long Reasoning { get; init; }

    /// <summary>Gets the input tokens billed at the plain input price.</summary>
    public long UncachedInput => Input - CachedInput - CacheWrite - CacheWrite1h;

    /// <summary>Gets the output tokens that are not reasoning tokens.</summary>
    public long VisibleOutput => Output - Reasoning;

    /// <summary>Gets the sum of input and output tokens.</summary>
    public long Total => Input + Output;

    /// <summary>Gets a value indicating whether every count is non-negative and every subset fits in its parent class.</summary>
    public bool IsConsistent =>
        Input >= 0 && CachedInput >= 0 && CacheWrite >= 0 && CacheWrite1h >= 0 && Output >= 0 && Reasoning >= 0
        && CachedInput + CacheWrite + CacheWrite1h <= Input
        && Reasoning <= Output;

    /// <summary>Adds two token counts class by class.</summary>
    /// <param name="left">The first counts.</param>
    /// <param name="right">The second counts.</param>
    /// <returns>The class-by-class sum.</returns>
    public static TokenCounts operator +(TokenCounts left, TokenCounts right) => new()
    {
        Input = left.Input + right.Input,
        CachedInput = left.CachedInput + right.CachedInput,
        CacheWrite = left.CacheWrite + right.CacheWrite,
        CacheWrite1h = left.CacheWrite1h + right.CacheWrite1h,
        Output = left.Output + right.Output,
        Reasoning = left.Reasoning + right.Reasoning,
    };

    /// <summary>Adds two token counts class by class.</summary>
    /// <param name="left">The first counts.</param>
    /// <param name="right">The second counts.</param>
    /// <returns>The class-by-class sum.</returns>
    public static TokenCounts Add(TokenCounts left, TokenCounts right) => left + right;
}

using System.Runtime.InteropServices;

namespace CostAware;

/// <summary>
/// The money one call cost, in US dollars, by token class. Figures are exact <see cref="decimal"/> products of
/// tokens and prices, never rounded; round only to display.
/// </summary>
[StructLayout(LayoutKind.Auto)]
public readonly record struct CostBreakdown
{
    /// <summary>Gets the cost of uncached input tokens.</summary>
    public decimal Input { get; init; }

    /// <summary>Gets the cost of input tokens read from the prompt cache.</summary>
    public decimal CachedInput { get; init; }

    /// <summary>Gets the cost of input tokens written to the prompt cache (both tiers).</summary>
    public decimal CacheWrite { get; init; }

    /// <summary>Gets the cost of output tokens that are not reasoning tokens.</summary>
    public decimal Output { get; init; }

    /// <summary>Gets the cost of reasoning tokens.</summary>
    public decimal Reasoning { get; init; }

    /// <summary>Gets the total cost of the call.</summary>
    public decimal Total => Input + CachedInput + CacheWrite + Output + Reasoning;

    /// <summary>Adds two breakdowns class by class.</summary>
    /// <param name="left">The first breakdown.</param>
    /// <param name="right">The second breakdown.</param>
    /// <returns>The class-by-class sum.</returns>
    public static CostBreakdown operator +(CostBreakdown left, CostBreakdown right) => new()
    {
        Input = left.Input + right.Input,
        CachedInput = left.CachedInput + right.CachedInput,
        CacheWrite = left.CacheWrite + right.CacheWrite,
        Output = left.Output + right.Output,
        Reasoning = left.Reasoning + right.Reasoning,
    };

    /// <summary>Adds two breakdowns class by class.</summary>
    /// <param name="left">The first breakdown.</param>
    /// <param name="right">The second breakdown.</param>
    /// <returns>The class-by-class sum.</returns>
    public static CostBreakdown Add(CostBreakdown left, CostBreakdown right) => left + right;
}

using System.Diagnostics.CodeAnalysis;
using Microsoft.Extensions.AI;

namespace CostAware;

/// <summary>
/// Tells one provider's <see cref="IChatClient"/> where a request's cacheable prefix ends, in the form that client reads
/// (for Anthropic's, <c>AnthropicPromptCacheHints</c> in CostAware.Anthropic writes the SDK's cache control on the
/// content). Used by <see cref="ProviderPromptCachingChatClient"/>, which decides where and for how long.
/// </summary>
[Experimental("CAEXP001")]
public interface IProviderCacheHints
{
    /// <summary>Gets the lifetimes this provider can cache a prefix for, shortest first (for Anthropic, 5 minutes and 1 hour).</summary>
    IReadOnlyList<TimeSpan> TimesToLive { get; }

    /// <summary>Gets what writing a prefix to the cache costs, as a multiple of the input price, per lifetime in <see cref="TimesToLive"/> order.</summary>
    IReadOnlyList<decimal> WriteMultipliers { get; }

    /// <summary>Gets what reading a cached prefix costs, as a multiple of the input price.</summary>
    decimal ReadMultiplier { get; }

    /// <summary>Gets the most breakpoints one request may carry.</summary>
    int MaxBreakpoints { get; }

    /// <summary>Gets the shortest prefix, in tokens, the provider caches for a model; below it a breakpoint is ignored.</summary>
    /// <param name="modelId">The request's model, when known.</param>
    /// <returns>The minimum, in tokens.</returns>
    int MinimumPrefixTokens(string? modelId);

    /// <summary>
    /// Returns a copy of <paramref name="content"/> marked as the end of a prefix to cache for <paramref name="timeToLive"/>,
    /// or <see langword="null"/> when this kind of content cannot carry a mark. The original is never changed.
    /// </summary>
    /// <param name="content">The last content of the message that ends the prefix.</param>
    /// <param name="timeToLive">One of <see cref="TimesToLive"/>.</param>
    /// <returns>The marked copy, or <see langword="null"/>.</returns>
    AIContent? MarkBreakpoint(AIContent content, TimeSpan timeToLive);
}

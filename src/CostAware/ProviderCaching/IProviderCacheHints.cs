using System.Diagnostics.CodeAnalysis;
using Microsoft.Extensions.AI;

namespace CostAware;

/// <summary>
/// Tells one provider's <see cref="IChatClient"/> about a request's cacheable prefix, in the form that client reads:
/// where the prefix ends (for Anthropic, <c>AnthropicPromptCacheHints</c> in CostAware.Anthropic writes the SDK's cache
/// control on the content), or which cache to route it to (for OpenAI, <c>OpenAIPromptCacheHints</c> in CostAware.OpenAI
/// sets <c>prompt_cache_key</c>). Used by <see cref="ProviderPromptCachingChatClient"/>, which decides where, for how
/// long and under which key.
/// </summary>
[Experimental("CAEXP001")]
public interface IProviderCacheHints
{
    /// <summary>
    /// Gets the lifetimes a breakpoint can give a prefix, shortest first (for Anthropic, 5 minutes and 1 hour); empty for a
    /// provider that caches without breakpoints.
    /// </summary>
    IReadOnlyList<TimeSpan> TimesToLive { get; }

    /// <summary>Gets what writing a prefix to the cache costs, as a multiple of the input price, per lifetime in <see cref="TimesToLive"/> order.</summary>
    IReadOnlyList<decimal> WriteMultipliers { get; }

    /// <summary>Gets what reading a cached prefix costs, as a multiple of the input price.</summary>
    decimal ReadMultiplier { get; }

    /// <summary>Gets the most breakpoints one request may carry; 0 for a provider that caches without breakpoints.</summary>
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

    /// <summary>
    /// Returns the options to send with a routing key for the provider's cache (a hash of the tenant and the request's
    /// stable prefix, never a tenant id), or <paramref name="options"/> itself when the provider routes by nothing the
    /// caller can set. The original options are never changed.
    /// </summary>
    /// <param name="options">The request's options, or <see langword="null"/>.</param>
    /// <param name="key">The routing key.</param>
    /// <returns>The options to send.</returns>
    ChatOptions? WithRoutingKey(ChatOptions? options, string key);
}

using System.Diagnostics.CodeAnalysis;
using CostAware;

namespace Microsoft.Extensions.AI;

/// <summary>Adds OpenAI prompt-cache routing, set by CostAware, to a chat client pipeline.</summary>
public static class OpenAIPromptCachingChatClientBuilderExtensions
{
    /// <summary>
    /// Adds a <see cref="ProviderPromptCachingChatClient"/> that sets OpenAI's <c>prompt_cache_key</c> to a hash of the
    /// tenant and the request's stable prefix (1,024 tokens or more), so that requests sharing a prefix are routed to the
    /// cache that holds it. Put it after the caches and before <c>UseTokenMetering()</c> (which hides the call's scope from
    /// the stages inside it).
    /// </summary>
    /// <param name="builder">The pipeline builder.</param>
    /// <param name="configure">Changes the options read from <c>CostAware:ProviderPromptCaching</c> (or the defaults), or <see langword="null"/>.</param>
    /// <returns>The builder.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="builder"/> is <see langword="null"/>.</exception>
    [Experimental("CAEXP001")]
    public static ChatClientBuilder UseOpenAIPromptCaching(this ChatClientBuilder builder, Action<ProviderPromptCachingOptions>? configure = null) =>
        builder.UseProviderPromptCaching(OpenAIPromptCacheHints.Instance, configure);
}

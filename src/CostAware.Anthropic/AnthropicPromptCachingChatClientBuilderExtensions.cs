using System.Diagnostics.CodeAnalysis;
using CostAware;

namespace Microsoft.Extensions.AI;

/// <summary>Adds Anthropic prompt caching, placed by CostAware, to a chat client pipeline.</summary>
public static class AnthropicPromptCachingChatClientBuilderExtensions
{
    /// <summary>
    /// Adds a <see cref="ProviderPromptCachingChatClient"/> that writes Anthropic cache breakpoints where the traffic shows
    /// they pay back. Put it after the caches and before <c>UseTokenMetering()</c> (which hides the call's scope from the
    /// stages inside it), so that statistics are kept per tenant.
    /// </summary>
    /// <param name="builder">The pipeline builder.</param>
    /// <param name="configure">Changes the options read from <c>CostAware:ProviderPromptCaching</c> (or the defaults), or <see langword="null"/>.</param>
    /// <returns>The builder.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="builder"/> is <see langword="null"/>.</exception>
    [Experimental("CAEXP001")]
    public static ChatClientBuilder UseAnthropicPromptCaching(this ChatClientBuilder builder, Action<ProviderPromptCachingOptions>? configure = null) =>
        builder.UseProviderPromptCaching(AnthropicPromptCacheHints.Instance, configure);
}

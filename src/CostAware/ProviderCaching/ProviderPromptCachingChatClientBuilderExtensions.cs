using System.Diagnostics.CodeAnalysis;
using CostAware;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Microsoft.Extensions.AI;

/// <summary>Adds the provider prompt caching stage to a chat client pipeline.</summary>
public static class ProviderPromptCachingChatClientBuilderExtensions
{
    /// <summary>
    /// Adds a <see cref="ProviderPromptCachingChatClient"/>: breakpoints for the provider's own prompt cache, placed where
    /// the traffic shows they pay back. Put it after the caches and before <c>UseTokenMetering()</c> (which hides the
    /// call's scope from the stages inside it), so that statistics are kept per tenant.
    /// </summary>
    /// <param name="builder">The pipeline builder.</param>
    /// <param name="hints">How the provider's client is told where a prefix ends (for Anthropic, <c>AnthropicPromptCacheHints.Instance</c> from CostAware.Anthropic).</param>
    /// <param name="configure">Changes the options read from <c>CostAware:ProviderPromptCaching</c> (or the defaults), or <see langword="null"/>.</param>
    /// <returns>The builder.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="builder"/> or <paramref name="hints"/> is <see langword="null"/>.</exception>
    [Experimental("CAEXP001")]
    public static ChatClientBuilder UseProviderPromptCaching(
        this ChatClientBuilder builder, IProviderCacheHints hints, Action<ProviderPromptCachingOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(hints);
        return builder.Use((inner, services) =>
        {
            ProviderPromptCachingOptions options = services.GetService<IOptions<CostAwareOptions>>()?.Value.ProviderPromptCaching.Clone() ?? new ProviderPromptCachingOptions();
            configure?.Invoke(options);
            return new ProviderPromptCachingChatClient(
                inner, hints, options, services.GetService<TimeProvider>(), services.GetService<ILoggerFactory>());
        });
    }
}

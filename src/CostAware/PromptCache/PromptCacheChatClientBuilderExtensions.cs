using CostAware;
using CostAware.Shared;
using Microsoft.Extensions.Caching.Hybrid;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Microsoft.Extensions.AI;

/// <summary>Adds <see cref="PromptCacheChatClient"/> to a chat pipeline.</summary>
public static class PromptCacheChatClientBuilderExtensions
{
    /// <summary>
    /// Adds the exact prompt cache. Place it outside the stages whose calls it should save (model cascade, metering),
    /// and inside the budget stage.
    /// </summary>
    /// <param name="builder">The pipeline builder.</param>
    /// <param name="cache">The cache; <see langword="null"/> resolves <see cref="HybridCache"/> from the pipeline's services.</param>
    /// <param name="configure">
    /// Adjusts the stage's options, starting from <c>CostAware:PromptCache</c> when <c>AddCostAware</c> registered
    /// them, or from the defaults; or <see langword="null"/>.
    /// </param>
    /// <returns><paramref name="builder"/>, for chaining.</returns>
    /// <remarks>
    /// What is not given is resolved from the pipeline's services: <see cref="IPriceCatalog"/> (else the built-in
    /// catalog), <see cref="ICostLedger"/> (else none), <see cref="TimeProvider"/>, <see cref="ILoggerFactory"/> and
    /// the metrics that <c>AddCostAware</c> registers. The options are validated when the pipeline is built.
    /// </remarks>
    /// <exception cref="ArgumentNullException"><paramref name="builder"/> is <see langword="null"/>.</exception>
    /// <exception cref="InvalidOperationException">When the pipeline is built: no <paramref name="cache"/> was given and none is registered.</exception>
    /// <exception cref="OptionsValidationException">When the pipeline is built: the options are not valid.</exception>
    public static ChatClientBuilder UsePromptCache(
        this ChatClientBuilder builder, HybridCache? cache = null, Action<PromptCacheOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        return builder.Use((inner, services) =>
        {
            PromptCacheOptions options = services.GetService<IOptions<CostAwareOptions>>()?.Value.PromptCache.Clone() ?? new PromptCacheOptions();
            configure?.Invoke(options);
            HybridCache resolved = cache ?? services.GetService<HybridCache>() ?? throw new InvalidOperationException(
                "UsePromptCache needs a HybridCache: call services.AddCostAware() (which registers one in memory), or pass one to UsePromptCache.");
            return new PromptCacheChatClient(
                inner,
                resolved,
                options,
                services.GetService<IPriceCatalog>(),
                services.GetService<ICostLedger>(),
                services.GetService<TimeProvider>(),
                services.GetService<ILoggerFactory>(),
                services.GetService<CostAwareMetrics>());
        });
    }
}

using CostAware;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Microsoft.Extensions.AI;

/// <summary>Adds the <see cref="ModelCascadeChatClient"/> stage to a chat client pipeline.</summary>
public static class ModelCascadeChatClientBuilderExtensions
{
    /// <summary>Calls the cheapest tier first and escalates only when its answer does not score high enough. Put it inside the caches and the budget, outside <c>UseTokenMetering()</c>.</summary>
    /// <param name="builder">The pipeline builder.</param>
    /// <param name="configure">Changes to the options bound from <c>CostAware:Cascade</c>: scorers, router, tier clients; or <see langword="null"/>.</param>
    /// <returns><paramref name="builder"/>, for chaining.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="builder"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException">When the pipeline is built: the cascade has no tiers.</exception>
    public static ChatClientBuilder UseModelCascade(this ChatClientBuilder builder, Action<ModelCascadeOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        return builder.Use((inner, services) =>
        {
            ModelCascadeOptions options = services.GetService<Microsoft.Extensions.Options.IOptions<CostAwareOptions>>()?.Value.Cascade.Clone() ?? new ModelCascadeOptions();
            configure?.Invoke(options);
            return new ModelCascadeChatClient(
                inner, options, services.GetService<IPriceCatalog>(), services.GetService<ICostLedger>(), services.GetService<TimeProvider>(), services.GetService<ILoggerFactory>());
        });
    }

    /// <summary>Gets the cascade's report on a response: each tier tried, its cost, score and reason, and the money saved.</summary>
    /// <param name="response">The response.</param>
    /// <returns>The report, or <see langword="null"/> when no cascade answered.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="response"/> is <see langword="null"/>.</exception>
    public static CascadeReport? GetCascadeReport(this ChatResponse response)
    {
        ArgumentNullException.ThrowIfNull(response);
        return response.AdditionalProperties?.TryGetValue(CostAwareProperties.CascadeReport, out object? value) == true ? value as CascadeReport : null;
    }
}

using CostAware;
using CostAware.SemanticCache.Internal;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers the semantic cache's options.</summary>
public static class SemanticCacheServiceCollectionExtensions
{
    /// <summary>The configuration section the options are bound from by default.</summary>
    public const string SectionName = "CostAware:SemanticCache";

    /// <summary>
    /// Registers <see cref="SemanticCacheOptions"/>, bound from a configuration section and validated at start-up,
    /// for <c>UseSemanticCache</c> to start from.
    /// </summary>
    /// <param name="services">The service collection.</param>
    /// <param name="configuration">The section to bind (for example <c>configuration.GetSection("CostAware:SemanticCache")</c>); <see langword="null"/> binds nothing.</param>
    /// <param name="configure">Adjusts the options after binding; or <see langword="null"/>.</param>
    /// <returns><paramref name="services"/>, for chaining.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="services"/> is <see langword="null"/>.</exception>
    public static IServiceCollection AddCostAwareSemanticCache(
        this IServiceCollection services, IConfiguration? configuration = null, Action<SemanticCacheOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        OptionsBuilder<SemanticCacheOptions> options = services.AddOptions<SemanticCacheOptions>();
        if (configuration is not null)
        {
            _ = options.Bind(configuration, static b => b.ErrorOnUnknownConfiguration = true);
        }

        if (configure is not null)
        {
            _ = options.Configure(configure);
        }

        _ = options.ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<SemanticCacheOptions>, SemanticCacheOptionsFullValidator>());

        // This package's instruments, on the app's meter factory (the "CostAware" meter, as the other packages').
        services.TryAddSingleton(static sp => new CostAware.Shared.CostAwareMetrics(sp.GetService<System.Diagnostics.Metrics.IMeterFactory>()));
        return services;
    }
}

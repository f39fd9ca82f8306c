using CostAware.Internal;
using CostAware;
using CostAware.Shared;
using Microsoft.Extensions.Caching.Hybrid;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers CostAware's shared services: price catalog, cost ledger, token estimator, metrics and options.</summary>
public static class CostAwareServiceCollectionExtensions
{
    /// <summary>Registers CostAware's shared services with default options.</summary>
    /// <param name="services">The service collection.</param>
    /// <returns><paramref name="services"/>, for chaining.</returns>
    /// <remarks>
    /// Registers, each only if not registered already: <see cref="CostAwareOptions"/> (validated at start-up),
    /// <see cref="IPriceCatalog"/> built from those options, <see cref="ICostLedger"/> as an
    /// <see cref="InMemoryCostLedger"/>, <see cref="ITokenEstimator"/>, <see cref="TimeProvider.System"/>, the
    /// <c>CostAware</c> meter, and a <see cref="HybridCache"/> for the prompt cache (memory only, unless the app
    /// registers an <c>IDistributedCache</c>, for example with <c>AddCostAwareRedis</c>).
    /// </remarks>
    /// <exception cref="ArgumentNullException"><paramref name="services"/> is <see langword="null"/>.</exception>
    public static IServiceCollection AddCostAware(this IServiceCollection services)
    {
        ArgumentNullException.ThrowIfNull(services);
        _ = services.AddOptionsWithValidateOnStart<CostAwareOptions>();
        return AddCore(services);
    }

    /// <summary>Registers CostAware's shared services with options bound from configuration (usually the <c>CostAware</c> section).</summary>
    /// <param name="services">The service collection.</param>
    /// <param name="section">
    /// The configuration section; unknown keys fail validation at start-up. Sub-sections that other CostAware packages
    /// bind themselves (<c>SemanticCache</c>, <c>Batching</c>, <c>Onnx</c>, <c>Redis</c>) are left to them.
    /// </param>
    /// <returns><paramref name="services"/>, for chaining.</returns>
    /// <exception cref="ArgumentNullException">An argument is <see langword="null"/>.</exception>
    public static IServiceCollection AddCostAware(this IServiceCollection services, IConfigurationSection section)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(section);
        _ = services.AddOptionsWithValidateOnStart<CostAwareOptions>()
            .Configure(options => Bind(section, options));

        // Reloads of the app's configuration reach IOptionsMonitor (the budget stage follows them).
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IOptionsChangeTokenSource<CostAwareOptions>>(new ConfigurationChangeTokenSource<CostAwareOptions>(section)));
        return AddCore(services);
    }

    // The section as this package binds it: without the sub-sections that other CostAware packages bind themselves
    // (CostAware:SemanticCache, CostAware:Batching, CostAware:Onnx, CostAware:Redis), so that those are not reported as unknown keys here.
    private static IConfiguration WithoutPackageSections(IConfigurationSection section) =>
        new ConfigurationBuilder().AddInMemoryCollection(section.AsEnumerable(makePathsRelative: true)
            .Where(static pair => pair.Value is not null && !PackageSections.Contains(pair.Key.Split(ConfigurationPath.KeyDelimiter)[0])))
            .Build();

    // The binder's own message for a value that does not convert ("binding has failed") names neither the key nor the
    // value; the inner exception that does is lifted into the message.
    private static void Bind(IConfigurationSection section, CostAwareOptions options)
    {
        // Keys of a budget's Where are scope dimensions; the binder reports a typo there only as "binding has failed".
        foreach (IConfigurationSection budget in section.GetSection("Budget:Budgets").GetChildren())
        {
            foreach (IConfigurationSection condition in budget.GetSection(nameof(BudgetDefinition.Where)).GetChildren())
            {
                if (!Enum.TryParse(condition.Key, ignoreCase: true, out CostScopeDimension _) || int.TryParse(condition.Key, out _))
                {
                    throw new InvalidOperationException(
                        $"The {section.Path} configuration section is not valid: '{condition.Key}' at 'Budget:Budgets:{budget.Key}:Where:{condition.Key}' is not a scope dimension (Tenant, User, ApiKey, Agent, Workflow, Feature).");
                }
            }
        }

        try
        {
            WithoutPackageSections(section).Bind(options, static o => o.ErrorOnUnknownConfiguration = true);
        }
        catch (InvalidOperationException ex)
        {
            Exception detail = ex;
            while (detail.InnerException is InvalidOperationException inner)
            {
                detail = inner;
            }

            if (ReferenceEquals(detail, ex))
            {
                throw;
            }

            throw new InvalidOperationException($"The {section.Path} configuration section is not valid: {detail.Message}", ex);
        }
    }

    private static readonly HashSet<string> PackageSections = new(StringComparer.OrdinalIgnoreCase) { "SemanticCache", "Batching", "Onnx", "Redis", "Ledger" };

    /// <summary>Registers CostAware's shared services with options set in code.</summary>
    /// <param name="services">The service collection.</param>
    /// <param name="configure">Sets the options.</param>
    /// <returns><paramref name="services"/>, for chaining.</returns>
    /// <exception cref="ArgumentNullException">An argument is <see langword="null"/>.</exception>
    public static IServiceCollection AddCostAware(this IServiceCollection services, Action<CostAwareOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configure);
        _ = services.AddOptionsWithValidateOnStart<CostAwareOptions>().Configure(configure);
        return AddCore(services);
    }

    private static IServiceCollection AddCore(IServiceCollection services)
    {
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<CostAwareOptions>, CostAwareOptionsValidator>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<CostAwareOptions>, CostAwareOptionsCatalogValidator>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<CostAwareOptions>, PromptCacheOptionsCrossFieldValidator>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<CostAwareOptions>, BudgetOptionsCrossFieldValidator>());
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton<IPriceCatalog>(static sp => PriceCatalogFactory.GetOrCreate(sp.GetRequiredService<IOptions<CostAwareOptions>>().Value));
        services.TryAddSingleton<ICostLedger, InMemoryCostLedger>();
        services.TryAddSingleton(static sp => sp.GetRequiredService<ICostLedger>() as ICostLedgerAggregates ?? new QueriedLedgerAggregates(sp.GetRequiredService<ICostLedger>()));
        services.TryAddSingleton<ITokenEstimator>(TiktokenTokenEstimator.Default);
        services.TryAddSingleton<IBudgetStore, InMemoryBudgetStore>();
        _ = services.AddMetrics();

        // The prompt cache's store: HybridCache in memory, with whatever IDistributedCache the app registers as its
        // second level. AddHybridCache adds only what is missing; the serializer keeps stored answers in CostAware's
        // own versioned format.
        _ = services.AddHybridCache();
        services.TryAddSingleton<IHybridCacheSerializer<PromptCacheEntry>>(PromptCacheEntrySerializer.Instance);
        services.TryAddSingleton(static sp => new CostAwareMetrics(sp.GetService<System.Diagnostics.Metrics.IMeterFactory>()));
        return services;
    }
}

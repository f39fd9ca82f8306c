using CostAware;
using CostAware.Batching.Internal;
using CostAware.Shared;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers CostAware's batch deferral: the durable queue, the scheduler (a hosted service) and the batch providers.</summary>
public static class BatchingServiceCollectionExtensions
{
    /// <summary>Registers batch deferral with options bound from a configuration section (usually <c>CostAware:Batching</c>).</summary>
    /// <param name="services">The services.</param>
    /// <param name="section">The section.</param>
    /// <param name="configure">Changes applied after binding (callbacks such as <see cref="BatchDeferralOptions.OnResult"/>), or <see langword="null"/>.</param>
    /// <returns><paramref name="services"/>, for chaining.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="services"/> or <paramref name="section"/> is <see langword="null"/>.</exception>
    public static IServiceCollection AddCostAwareBatching(this IServiceCollection services, IConfigurationSection section, Action<BatchDeferralOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(section);
        OptionsBuilder<BatchDeferralOptions> options = services.AddOptions<BatchDeferralOptions>()
            .Configure(o => section.Bind(o, static b => b.ErrorOnUnknownConfiguration = true));
        if (configure is not null)
        {
            _ = options.Configure(configure);
        }

        return AddCore(services, options);
    }

    /// <summary>Registers batch deferral with options set in code.</summary>
    /// <param name="services">The services.</param>
    /// <param name="configure">Sets the options.</param>
    /// <returns><paramref name="services"/>, for chaining.</returns>
    /// <exception cref="ArgumentNullException">An argument is <see langword="null"/>.</exception>
    public static IServiceCollection AddCostAwareBatching(this IServiceCollection services, Action<BatchDeferralOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configure);
        return AddCore(services, services.AddOptions<BatchDeferralOptions>().Configure(configure));
    }

    private static IServiceCollection AddCore(IServiceCollection services, OptionsBuilder<BatchDeferralOptions> options)
    {
        _ = options.ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<BatchDeferralOptions>, BatchDeferralOptionsValidator>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<BatchDeferralOptions>, BatchDeferralOptionsCrossFieldValidator>());
        services.TryAddSingleton(TimeProvider.System);

        // This package's instruments, on the app's meter factory (the "CostAware" meter, as the other packages').
        services.TryAddSingleton(static sp => new CostAware.Shared.CostAwareMetrics(sp.GetService<System.Diagnostics.Metrics.IMeterFactory>()));
        services.TryAddSingleton(static sp => new DeferralCoordinator(
            sp.GetRequiredService<IOptions<BatchDeferralOptions>>().Value.Clone(),
            sp.GetServices<IBatchProvider>(),
            sp.GetService<IPriceCatalog>() ?? PriceCatalog.BuiltIn,
            sp.GetService<ICostLedger>(),
            sp.GetRequiredService<TimeProvider>(),
            (sp.GetService<ILoggerFactory>() ?? NullLoggerFactory.Instance).CreateLogger<BatchDeferralChatClient>(),
            sp.GetService<IDeferralQueue>() ?? RedisQueue(sp),
            sp.GetService<CostAwareMetrics>()));
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IHostedService, BatchScheduler>(static sp => new BatchScheduler(
            sp.GetRequiredService<DeferralCoordinator>(),
            sp.GetRequiredService<TimeProvider>(),
            (sp.GetService<ILoggerFactory>() ?? NullLoggerFactory.Instance).CreateLogger<BatchScheduler>())));
        return services;
    }

    // With AddCostAwareRedis (CostAware.Redis), deferred calls are queued in the app's Redis, shared by every machine.
    private static RedisDeferralQueue? RedisQueue(IServiceProvider services) =>
        services.GetService<StackExchange.Redis.IConnectionMultiplexer>() is { } redis
            ? new RedisDeferralQueue(redis, services.GetService<IOptions<CostAwareRedisOptions>>()?.Value.InstanceName ?? "costaware:")
            : null;
}

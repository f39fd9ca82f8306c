using CostAware;
using Microsoft.Extensions.Caching.Distributed;
using Microsoft.Extensions.Caching.StackExchangeRedis;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Puts CostAware's shared state in Redis: the prompt cache's second level and the semantic cache's store.</summary>
public static class CostAwareRedisServiceCollectionExtensions
{
    /// <summary>
    /// Uses Redis when the section sets <see cref="CostAwareRedisOptions.Configuration"/>, and process memory when it
    /// does not: an app moves from one node to many by configuration alone.
    /// </summary>
    /// <param name="services">The service collection.</param>
    /// <param name="section">The configuration section, usually <c>CostAware:Redis</c>.</param>
    /// <returns><paramref name="services"/>, for chaining.</returns>
    /// <remarks>
    /// With a configuration string, registers one shared <see cref="IConnectionMultiplexer"/> (unless the app
    /// registered one), an <see cref="IDistributedCache"/> over it, which the prompt cache's HybridCache uses as its
    /// second level, and the budget store in Redis. The semantic cache (<c>CostAware.SemanticCache</c>) and batch
    /// deferral (<c>CostAware.Batching</c>), when the app uses them, find this connection and keep their shared entries
    /// and queue in Redis too; this package does not bring them. The connection does not fail start-up while Redis is
    /// down: the caches fall back to memory, log, and reconnect. Call <c>AddCostAware</c> as well.
    /// </remarks>
    /// <exception cref="ArgumentNullException">An argument is <see langword="null"/>.</exception>
    /// <exception cref="InvalidOperationException">The section has a key that <see cref="CostAwareRedisOptions"/> does not.</exception>
    /// <exception cref="OptionsValidationException">The options are not valid.</exception>
    public static IServiceCollection AddCostAwareRedis(this IServiceCollection services, IConfigurationSection section)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(section);
        CostAwareRedisOptions bound = new();
        section.Bind(bound, static o => o.ErrorOnUnknownConfiguration = true);
        return AddCore(services, bound);
    }

    /// <summary>Uses Redis with options set in code; with no <see cref="CostAwareRedisOptions.Configuration"/>, process memory.</summary>
    /// <param name="services">The service collection.</param>
    /// <param name="configure">Sets the options; it runs once, now.</param>
    /// <returns><paramref name="services"/>, for chaining.</returns>
    /// <exception cref="ArgumentNullException">An argument is <see langword="null"/>.</exception>
    /// <exception cref="OptionsValidationException">The options are not valid.</exception>
    public static IServiceCollection AddCostAwareRedis(this IServiceCollection services, Action<CostAwareRedisOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configure);
        CostAwareRedisOptions options = new();
        configure(options);
        return AddCore(services, options);
    }

    private static IServiceCollection AddCore(IServiceCollection services, CostAwareRedisOptions options)
    {
        // Checked now: the decision to use Redis is taken at registration.
        ValidateOptionsResult result = new CostAware.Redis.Internal.CostAwareRedisOptionsValidator().Validate(nameof(CostAwareRedisOptions), options);
        if (result.Failed)
        {
            throw new OptionsValidationException(
                nameof(CostAwareRedisOptions), typeof(CostAwareRedisOptions), result.Failures.Select(static f => $"CostAware:Redis: {f}"));
        }

        if (string.IsNullOrWhiteSpace(options.Configuration))
        {
            return services;
        }

        string configuration = options.Configuration;
        services.TryAddSingleton<IConnectionMultiplexer>(_ =>
        {
            ConfigurationOptions redis = ConfigurationOptions.Parse(configuration);
            // Start even while Redis is down; StackExchange.Redis keeps reconnecting, and the caches use memory meanwhile.
            redis.AbortOnConnectFail = false;

            // Fail fast while Redis is unreachable: a command is refused at once instead of waiting in the backlog for
            // the connection to come back (5 s and more per lookup), so a cache miss goes to the provider after a few
            // milliseconds, and a budget with StoreFailureMode FailClosed refuses at once. Timeouts the configuration
            // string sets itself are kept. The connect timeout keeps StackExchange.Redis's 5 s: with commands failing
            // fast, a connection that is slow to open on a busy machine would otherwise refuse the first calls (a
            // FailClosed budget refuses them all), and a Redis down at start blocks the first resolution once, not
            // every call.
            redis.BacklogPolicy = BacklogPolicy.FailFast;
            if (!Mentions(configuration, "syncTimeout"))
            {
                redis.SyncTimeout = 1_000;
            }

            if (!Mentions(configuration, "asyncTimeout"))
            {
                redis.AsyncTimeout = 1_000;
            }

            return ConnectionMultiplexer.Connect(redis);
        });

        // Budgets are counted in Redis, whichever of AddCostAware and AddCostAwareRedis came first.
        string instanceName = options.InstanceName;
        services.RemoveAll<IBudgetStore>();
        services.AddSingleton<IBudgetStore>(provider => new CostAware.Redis.Internal.RedisBudgetStore(
            provider.GetRequiredService<IConnectionMultiplexer>(), instanceName));

        // The semantic cache's shared store and the deferral queue (in their own packages) find the connection and the
        // instance name here.
        _ = services.AddOptions<CostAwareRedisOptions>().Configure(o =>
        {
            o.Configuration = options.Configuration;
            o.InstanceName = options.InstanceName;
        });
        _ = services.AddStackExchangeRedisCache(static _ => { });
        _ = services.AddOptions<RedisCacheOptions>().Configure<IServiceProvider>((redisCache, provider) =>
        {
            redisCache.InstanceName = options.InstanceName;
            redisCache.ConnectionMultiplexerFactory = () => Task.FromResult(provider.GetRequiredService<IConnectionMultiplexer>());
        });
        return services;
    }

    private static bool Mentions(string configuration, string option) =>
        configuration.Contains(option + "=", StringComparison.OrdinalIgnoreCase);
}

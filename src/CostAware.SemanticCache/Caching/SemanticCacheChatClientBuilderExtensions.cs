using CostAware;
using CostAware.Shared;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Microsoft.Extensions.AI;

/// <summary>Adds <see cref="SemanticCacheChatClient"/> to a chat pipeline.</summary>
public static class SemanticCacheChatClientBuilderExtensions
{
    /// <summary>
    /// Adds the semantic cache. Place it inside the exact prompt cache (an exact hit is cheaper than an embedding) and
    /// outside the stages whose calls it should save (model cascade, metering).
    /// </summary>
    /// <param name="builder">The pipeline builder.</param>
    /// <param name="embeddingGenerator">
    /// Embeds the user's text; <see langword="null"/> resolves <c>IEmbeddingGenerator&lt;string, Embedding&lt;float&gt;&gt;</c>
    /// from the pipeline's services, else loads <see cref="SemanticCacheOptions.Model2VecModelPath"/> when set, else uses
    /// the built-in <see cref="LexicalEmbeddingGenerator"/> (offline, free, word overlap only).
    /// </param>
    /// <param name="configure">
    /// Adjusts the options, starting from those <c>AddCostAwareSemanticCache</c> registered, or from the defaults; or <see langword="null"/>.
    /// </param>
    /// <returns><paramref name="builder"/>, for chaining.</returns>
    /// <remarks>
    /// Also resolved from the pipeline's services: <see cref="ISemanticCacheStore"/> (entries shared across nodes; else
    /// this process only), <see cref="ISemanticHitVerifier"/>, <see cref="IPriceCatalog"/>, <see cref="ICostLedger"/>,
    /// <see cref="TimeProvider"/>, <see cref="ILoggerFactory"/> and CostAware's metrics.
    /// </remarks>
    /// <exception cref="ArgumentNullException"><paramref name="builder"/> is <see langword="null"/>.</exception>
    /// <exception cref="OptionsValidationException">When the pipeline is built: the options are not valid.</exception>
    public static ChatClientBuilder UseSemanticCache(
        this ChatClientBuilder builder,
        IEmbeddingGenerator<string, Embedding<float>>? embeddingGenerator = null,
        Action<SemanticCacheOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        return builder.Use((inner, services) =>
        {
            SemanticCacheOptions options = services.GetService<IOptions<SemanticCacheOptions>>()?.Value.Clone() ?? new SemanticCacheOptions();
            configure?.Invoke(options);
            IEmbeddingGenerator<string, Embedding<float>> generator = embeddingGenerator
                ?? services.GetService<IEmbeddingGenerator<string, Embedding<float>>>()
                ?? DefaultEmbeddingGenerator(options);
            return new SemanticCacheChatClient(
                inner,
                generator,
                options,
                services.GetService<ISemanticCacheStore>() ?? RedisStore(services),
                services.GetService<ISemanticHitVerifier>(),
                services.GetService<IPriceCatalog>(),
                services.GetService<ICostLedger>(),
                services.GetService<TimeProvider>(),
                services.GetService<ILoggerFactory>(),
                services.GetService<CostAwareMetrics>());
        });
    }

    internal static IEmbeddingGenerator<string, Embedding<float>> DefaultEmbeddingGenerator(SemanticCacheOptions options) =>
        options.Model2VecModelPath is { } path ? Model2VecEmbeddingGenerator.Load(path) : new LexicalEmbeddingGenerator();

    // With AddCostAwareRedis (CostAware.Redis), entries are shared through the app's Redis connection.
    private static RedisSemanticCacheStore? RedisStore(IServiceProvider services) =>
        services.GetService<StackExchange.Redis.IConnectionMultiplexer>() is { } redis
            ? new RedisSemanticCacheStore(
                redis,
                (services.GetService<Microsoft.Extensions.Options.IOptions<CostAwareRedisOptions>>()?.Value.InstanceName ?? "costaware:") + "semantic",
                services.GetService<TimeProvider>())
            : null;
}

using CostAware;
using CostAware.Onnx.Internal;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers the local ONNX chat client and embedding generator (<c>CostAware.Onnx</c>).</summary>
public static class OnnxServiceCollectionExtensions
{
    /// <summary>
    /// Registers an <see cref="OnnxChatClient"/> singleton, with options bound from <paramref name="section"/> (usually
    /// <c>CostAware:Onnx:Chat</c>) and validated at start-up. Compose it into a pipeline with
    /// <c>services.AddChatClient(sp =&gt; sp.GetRequiredService&lt;OnnxChatClient&gt;())</c>.
    /// </summary>
    /// <param name="services">The services.</param>
    /// <param name="section">The configuration section.</param>
    /// <param name="configure">Further configuration in code, applied after binding (for example a <see cref="OnnxChatClientOptions.PromptFormatter"/>).</param>
    /// <returns>The services, for chaining.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="services"/> or <paramref name="section"/> is <see langword="null"/>.</exception>
    public static IServiceCollection AddCostAwareOnnxChatClient(this IServiceCollection services, IConfigurationSection section, Action<OnnxChatClientOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(section);
        OptionsBuilder<OnnxChatClientOptions> options = services.AddOptions<OnnxChatClientOptions>().Bind(section, static b => b.ErrorOnUnknownConfiguration = true);
        if (configure is not null)
        {
            _ = options.Configure(configure);
        }

        return AddChat(services, options);
    }

    /// <summary>Registers an <see cref="OnnxChatClient"/> singleton configured in code, validated at start-up.</summary>
    /// <param name="services">The services.</param>
    /// <param name="configure">Sets the model folder and the other options.</param>
    /// <returns>The services, for chaining.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="services"/> or <paramref name="configure"/> is <see langword="null"/>.</exception>
    public static IServiceCollection AddCostAwareOnnxChatClient(this IServiceCollection services, Action<OnnxChatClientOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configure);
        return AddChat(services, services.AddOptions<OnnxChatClientOptions>().Configure(configure));
    }

    /// <summary>
    /// Registers an <see cref="OnnxEmbeddingGenerator"/> singleton, also as <see cref="IEmbeddingGenerator{TInput, TEmbedding}"/>
    /// of strings (what the semantic cache uses), with options bound from <paramref name="section"/> (usually
    /// <c>CostAware:Onnx:Embeddings</c>) and validated at start-up.
    /// </summary>
    /// <param name="services">The services.</param>
    /// <param name="section">The configuration section.</param>
    /// <returns>The services, for chaining.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="services"/> or <paramref name="section"/> is <see langword="null"/>.</exception>
    public static IServiceCollection AddCostAwareOnnxEmbeddingGenerator(this IServiceCollection services, IConfigurationSection section)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(section);
        return AddEmbeddings(services, services.AddOptions<OnnxEmbeddingGeneratorOptions>().Bind(section, static b => b.ErrorOnUnknownConfiguration = true));
    }

    /// <summary>Registers an <see cref="OnnxEmbeddingGenerator"/> singleton configured in code, also as <see cref="IEmbeddingGenerator{TInput, TEmbedding}"/> of strings.</summary>
    /// <param name="services">The services.</param>
    /// <param name="configure">Sets the model folder and the other options.</param>
    /// <returns>The services, for chaining.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="services"/> or <paramref name="configure"/> is <see langword="null"/>.</exception>
    public static IServiceCollection AddCostAwareOnnxEmbeddingGenerator(this IServiceCollection services, Action<OnnxEmbeddingGeneratorOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configure);
        return AddEmbeddings(services, services.AddOptions<OnnxEmbeddingGeneratorOptions>().Configure(configure));
    }

    private static IServiceCollection AddChat(IServiceCollection services, OptionsBuilder<OnnxChatClientOptions> options)
    {
        _ = options.ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<OnnxChatClientOptions>, OnnxChatClientOptionsValidator>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<OnnxChatClientOptions>, OnnxOptionsCrossFieldValidator>());
        services.TryAddSingleton(sp => new OnnxChatClient(
            sp.GetRequiredService<IOptions<OnnxChatClientOptions>>().Value,
            sp.GetService<ILoggerFactory>(),
            sp.GetService<TimeProvider>()));
        return services;
    }

    private static IServiceCollection AddEmbeddings(IServiceCollection services, OptionsBuilder<OnnxEmbeddingGeneratorOptions> options)
    {
        _ = options.ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<OnnxEmbeddingGeneratorOptions>, OnnxEmbeddingGeneratorOptionsValidator>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<OnnxEmbeddingGeneratorOptions>, OnnxOptionsCrossFieldValidator>());
        services.TryAddSingleton(sp => new OnnxEmbeddingGenerator(
            sp.GetRequiredService<IOptions<OnnxEmbeddingGeneratorOptions>>().Value,
            sp.GetService<ILoggerFactory>()));
        services.TryAddSingleton<IEmbeddingGenerator<string, Embedding<float>>>(sp => sp.GetRequiredService<OnnxEmbeddingGenerator>());
        return services;
    }
}

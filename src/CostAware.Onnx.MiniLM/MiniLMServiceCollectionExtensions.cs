using CostAware;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers the all-MiniLM-L6-v2 sentence embedder (<c>CostAware.Onnx.MiniLM</c>).</summary>
public static class MiniLMServiceCollectionExtensions
{
    /// <summary>
    /// Registers all-MiniLM-L6-v2 as the app's <see cref="OnnxEmbeddingGenerator"/> singleton, also as
    /// <c>IEmbeddingGenerator&lt;string, Embedding&lt;float&gt;&gt;</c> (what <c>UseSemanticCache</c> embeds with). The model is
    /// extracted and checked when the options are first read (at start-up with a host), not downloaded.
    /// </summary>
    /// <param name="services">The services.</param>
    /// <param name="configure">Adjusts the options after the model's own settings (for example <see cref="OnnxModelOptions.IntraOpThreads"/>, or <see cref="OnnxModelOptions.ModelPath"/> to extract elsewhere).</param>
    /// <returns>The services, for chaining.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="services"/> is <see langword="null"/>.</exception>
    public static IServiceCollection AddCostAwareMiniLMEmbeddingGenerator(this IServiceCollection services, Action<OnnxEmbeddingGeneratorOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        return services.AddCostAwareOnnxEmbeddingGenerator(options => MiniLMEmbeddings.Configure(options, configure));
    }
}

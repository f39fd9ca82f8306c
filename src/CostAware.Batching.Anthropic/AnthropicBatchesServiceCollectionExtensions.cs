using CostAware;
using CostAware.Batching.Anthropic.Internal;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers Anthropic's Message Batches as a provider of CostAware's batch deferral.</summary>
public static class AnthropicBatchesServiceCollectionExtensions
{
    /// <summary>
    /// Sends deferred calls to models whose catalog provider is <c>anthropic</c> through Anthropic's Message Batches, with
    /// the official SDK client given (its endpoint and credentials).
    /// </summary>
    /// <param name="services">The service collection; call <c>AddCostAwareBatching</c> as well.</param>
    /// <param name="client">The Anthropic client.</param>
    /// <returns><paramref name="services"/>, for chaining.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="services"/> or <paramref name="client"/> is <see langword="null"/>.</exception>
    public static IServiceCollection AddCostAwareAnthropicBatches(this IServiceCollection services, Anthropic.IAnthropicClient client)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(client);
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IBatchProvider>(new AnthropicBatchProvider(client)));
        return services;
    }
}

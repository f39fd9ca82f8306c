using CostAware;
using CostAware.Batching.OpenAI.Internal;
using Microsoft.Extensions.DependencyInjection.Extensions;
using OpenAI;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers OpenAI's Batch API as a provider of CostAware's batch deferral.</summary>
public static class OpenAIBatchesServiceCollectionExtensions
{
    /// <summary>
    /// Sends deferred calls to models whose catalog provider is <c>openai</c> through OpenAI's Batch API, with the
    /// official SDK client given (its endpoint and credentials).
    /// </summary>
    /// <param name="services">The service collection; call <c>AddCostAwareBatching</c> as well.</param>
    /// <param name="client">The OpenAI client.</param>
    /// <param name="endpoint">The endpoint the batched requests go to: chat completions (what <c>ChatClient.AsIChatClient()</c> calls) or responses.</param>
    /// <returns><paramref name="services"/>, for chaining.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="services"/> or <paramref name="client"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="endpoint"/> is not a defined value.</exception>
    public static IServiceCollection AddCostAwareOpenAIBatches(this IServiceCollection services, OpenAIClient client, OpenAIBatchEndpoint endpoint = OpenAIBatchEndpoint.ChatCompletions)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(client);
        if (!Enum.IsDefined(endpoint))
        {
            throw new ArgumentOutOfRangeException(nameof(endpoint), endpoint, "Not an OpenAI batch endpoint.");
        }

        services.TryAddEnumerable(ServiceDescriptor.Singleton<IBatchProvider>(new OpenAIBatchProvider(client, endpoint)));
        return services;
    }
}

using Microsoft.Extensions.AI;

namespace CostAware.Internal.Batching;

// One provider's batch API, as the coordinator uses it. Name matches the price catalog's provider of a model
// ("openai", "anthropic"), which is how a deferred call finds its provider.
internal interface IBatchProvider
{
    string Name { get; }

    string Endpoint { get; }

    int MaxRequests { get; }

    long MaxBytes { get; }

    Task<byte[]> BuildRequestAsync(string modelId, IEnumerable<ChatMessage> messages, ChatOptions? options, CancellationToken cancellationToken);

    Task<ChatResponse> ReadResponseAsync(string modelId, byte[] body, CancellationToken cancellationToken);

    Task<string> SubmitAsync(string batchId, IReadOnlyList<DeferredCall> calls, CancellationToken cancellationToken);

    // The provider batch a crash may have left unrecorded, or null when the provider holds none for this batch id.
    Task<string?> FindAsync(string batchId, IReadOnlyList<DeferredCall> calls, CancellationToken cancellationToken);

    Task<ProviderBatchStatus> GetStatusAsync(string providerBatchId, CancellationToken cancellationToken);

    Task<IReadOnlyList<ProviderLineResult>> ReadResultsAsync(string providerBatchId, ProviderBatchStatus status, CancellationToken cancellationToken);
}

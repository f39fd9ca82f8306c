using Microsoft.Extensions.AI;
using OpenAI;

namespace CostAware.Batching.OpenAI.Internal;

// OpenAI's chat-completions (or responses) batches: requests written and results read by the official SDK (OpenAIChatCodec), files
// and batches through its file and batch clients (OpenAIBatchProtocol).
internal sealed class OpenAIBatchProvider(OpenAIClient client, OpenAIBatchEndpoint endpoint = OpenAIBatchEndpoint.ChatCompletions) : IBatchProvider
{
    private readonly OpenAIBatchProtocol _protocol = new(client);

    public string Name => "openai";

    public string Endpoint => endpoint == OpenAIBatchEndpoint.Responses ? OpenAIBatchProtocol.ResponsesEndpoint : OpenAIBatchProtocol.ChatCompletionsEndpoint;

    public int MaxRequests => OpenAIBatchProtocol.MaxRequests;

    public long MaxBytes => OpenAIBatchProtocol.MaxBytes;

    public Task<byte[]> BuildRequestAsync(string modelId, IEnumerable<ChatMessage> messages, ChatOptions? options, CancellationToken cancellationToken) =>
        OpenAIChatCodec.BuildRequestAsync(endpoint, modelId, messages, options, cancellationToken);

    public Task<ChatResponse> ReadResponseAsync(string modelId, byte[] body, CancellationToken cancellationToken) =>
        OpenAIChatCodec.ReadResponseAsync(endpoint, modelId, body, cancellationToken);

    public Task<string> SubmitAsync(string batchId, IReadOnlyList<DeferredCall> calls, CancellationToken cancellationToken) =>
        _protocol.SubmitAsync(batchId, Endpoint, calls, cancellationToken);

    public Task<string?> FindAsync(string batchId, IReadOnlyList<DeferredCall> calls, CancellationToken cancellationToken) =>
        _protocol.FindAsync(batchId, cancellationToken);

    public Task<ProviderBatchStatus> GetStatusAsync(string providerBatchId, CancellationToken cancellationToken) =>
        _protocol.GetStatusAsync(providerBatchId, cancellationToken);

    public Task<IReadOnlyList<ProviderLineResult>> ReadResultsAsync(string providerBatchId, ProviderBatchStatus status, CancellationToken cancellationToken) =>
        _protocol.ReadResultsAsync(status, cancellationToken);

    public bool IsTransient(Exception exception) =>
        exception is HttpRequestException or TimeoutException
        || exception is System.ClientModel.ClientResultException { Status: 0 or 408 or 429 or >= 500 };
}

using System.Collections.Concurrent;
using System.Text.Json;
using Microsoft.Extensions.AI;

namespace CostAware.Cli;

// The batch API of the simulation's replay backend: what CostAware's real batch-deferral stage submits is answered at
// once, with the trace's tokens for each call (the request body carries them), and priced by the stage at the batch
// price. Its name is the catalog provider of the simulated model, so the stage finds it as it would find OpenAI's.
internal sealed class ReplayBatchProvider(string name) : IBatchProvider
{
    private readonly ConcurrentDictionary<string, IReadOnlyList<DeferredCall>> _batches = new(StringComparer.Ordinal);

    public string Name => name;

    public string Endpoint => "/v1/chat/completions";

    public int MaxRequests => 50_000;

    public long MaxBytes => 200L * 1024 * 1024;

    public Task<byte[]> BuildRequestAsync(string modelId, IEnumerable<ChatMessage> messages, ChatOptions? options, CancellationToken cancellationToken)
    {
        Simulation.Request request = options?.AdditionalProperties?.TryGetValue(Simulation.RequestKey, out object? value) == true && value is Simulation.Request r
            ? r
            : throw new InvalidOperationException("A deferred call without its trace request.");
        (string text, long? input, long? output) = Simulation.Reply(request, modelId);
        return Task.FromResult(JsonSerializer.SerializeToUtf8Bytes(new Body(modelId, text, input, output)));
    }

    public Task<ChatResponse> ReadResponseAsync(string modelId, byte[] body, CancellationToken cancellationToken)
    {
        Body answer = JsonSerializer.Deserialize<Body>(body) ?? throw new InvalidDataException("An empty replayed batch answer.");
        return Task.FromResult(new ChatResponse(new ChatMessage(ChatRole.Assistant, answer.Text))
        {
            ModelId = answer.Model,
            FinishReason = ChatFinishReason.Stop,
            Usage = answer.Input is { } input && answer.Output is { } output ? new UsageDetails { InputTokenCount = input, OutputTokenCount = output } : null,
        });
    }

    public Task<string> SubmitAsync(string batchId, IReadOnlyList<DeferredCall> calls, CancellationToken cancellationToken)
    {
        _batches[batchId] = calls;
        return Task.FromResult(batchId);
    }

    public Task<string?> FindAsync(string batchId, IReadOnlyList<DeferredCall> calls, CancellationToken cancellationToken) =>
        Task.FromResult(_batches.ContainsKey(batchId) ? batchId : null);

    public Task<ProviderBatchStatus> GetStatusAsync(string providerBatchId, CancellationToken cancellationToken) =>
        Task.FromResult(new ProviderBatchStatus("completed", IsTerminal: true));

    public Task<IReadOnlyList<ProviderLineResult>> ReadResultsAsync(string providerBatchId, ProviderBatchStatus status, CancellationToken cancellationToken) =>
        Task.FromResult<IReadOnlyList<ProviderLineResult>>([.. _batches.TryRemove(providerBatchId, out IReadOnlyList<DeferredCall>? calls)
            ? calls.Select(static c => new ProviderLineResult(c.Id, c.Body, null, false))
            : []]);

    public bool IsTransient(Exception exception) => false;

    private sealed record class Body(string Model, string Text, long? Input, long? Output);
}

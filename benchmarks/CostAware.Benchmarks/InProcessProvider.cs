using Microsoft.Extensions.AI;

namespace CostAware.Benchmarks;

// A provider stand-in that answers in-process, so that only the middleware is measured. The updates of a stream are
// the same three every time: text, text, then usage.
internal sealed class InProcessProvider : IChatClient
{
    private readonly ChatClientMetadata _metadata = new("openai", null, "gpt-4o");

    public Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default) =>
        Task.FromResult(new ChatResponse(new ChatMessage(ChatRole.Assistant, "She makes $18 every day."))
        {
            ModelId = "gpt-4o-2024-08-06",
            Usage = new UsageDetails { InputTokenCount = 1_157, CachedInputTokenCount = 512, OutputTokenCount = 213 },
        });

    public async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        foreach (ChatResponseUpdate update in MeteringBenchmark.Updates)
        {
            yield return update;
        }

        await Task.CompletedTask;
    }

    public object? GetService(Type serviceType, object? serviceKey = null) =>
        serviceType == typeof(ChatClientMetadata) ? _metadata : null;

    public void Dispose()
    {
    }
}

using System.IO.Hashing;
using System.Runtime.InteropServices;
using Anthropic.Models.Messages;
using Microsoft.Extensions.AI;

namespace CostAware.Samples.ProviderCaching;

// An in-process model of Anthropic's prompt cache (AnthropicCacheRules) over the messages a client sends, each message
// one block, its breakpoint the SDK's cache control on a content. Tokens are counted with OpenAI's tokenizer. Shared by
// the ProviderCaching sample and the provider-cache evaluation in benchmarks/.
internal sealed class AnthropicCacheModel(TimeProvider time, string model) : IChatClient
{
    private readonly AnthropicCacheRules _rules = new();

    // Tokens read from and written to the cache so far.
    public long Read { get; private set; }

    public long Written { get; private set; }

    public Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
    {
        DateTimeOffset now = time.GetUtcNow();
        List<ChatMessage> list = [.. messages];
        List<(UInt128 Key, long Tokens, TimeSpan? Ttl)> blocks = new(list.Count);
        XxHash128 hash = new();
        long running = 0;
        for (int i = 0; i < list.Count; i++)
        {
            string text = list[i].Text;
            hash.Append(MemoryMarshal.AsBytes(text.AsSpan()));
            running += TiktokenTokenEstimator.Default.CountTokens(text, "gpt-4o") + 4;
            TimeSpan? ttl = null;
            foreach (AIContent content in list[i].Contents)
            {
                if (content.AdditionalProperties?.TryGetValue("anthropic:cache_control", out object? control) == true && control is CacheControlEphemeral ephemeral)
                {
                    ttl = ephemeral.Ttl?.Raw() == "1h" ? TimeSpan.FromHours(1) : TimeSpan.FromMinutes(5);
                }
            }

            blocks.Add((hash.GetCurrentHashAsUInt128(), running, ttl));
        }

        (long read, long written5m, long written1h) = _rules.Apply(blocks, now);
        Read += read;
        Written += written5m + written1h;
        return Task.FromResult(new ChatResponse(new ChatMessage(ChatRole.Assistant, "ok"))
        {
            ModelId = model,
            Usage = new UsageDetails
            {
                InputTokenCount = running,
                OutputTokenCount = 1,
                CachedInputTokenCount = read,
                AdditionalCounts = new()
                {
                    ["cache_creation_input_tokens"] = written5m + written1h,
                    ["cache_creation.ephemeral_1h_input_tokens"] = written1h,
                },
            },
        });
    }

    public IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default) =>
        throw new NotSupportedException();

    public object? GetService(System.Type serviceType, object? serviceKey = null) => null;

    public void Dispose()
    {
    }
}

using System.IO.Hashing;
using System.Runtime.InteropServices;
using Anthropic.Models.Messages;
using Microsoft.Extensions.AI;

namespace CostAware.Samples.ProviderCaching;

// An in-process model of Anthropic's prompt cache, as its prompt caching guide describes it: a breakpoint (the SDK's
// cache control on a content block) caches the prefix up to it for its lifetime from last use; a request reads the
// longest live prefix ending at one of its breakpoints or up to 20 blocks before one; writes are billed for the tokens
// beyond what was read; nothing under 1,024 tokens is cached. Tokens are counted with OpenAI's tokenizer. Shared by the
// ProviderCaching sample and the provider-cache evaluation in benchmarks/.
internal sealed class AnthropicCacheModel(TimeProvider time, string model) : IChatClient
{
    private const int Minimum = 1024;
    private readonly Dictionary<UInt128, (DateTimeOffset Expires, TimeSpan Ttl)> _cache = [];

    // Tokens read from and written to the cache so far.
    public long Read { get; private set; }

    public long Written { get; private set; }

    public Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
    {
        DateTimeOffset now = time.GetUtcNow();
        List<ChatMessage> list = [.. messages];
        UInt128[] keys = new UInt128[list.Count];
        long[] tokens = new long[list.Count];
        XxHash128 hash = new();
        long running = 0;
        List<(int Index, TimeSpan Ttl)> breakpoints = [];
        for (int i = 0; i < list.Count; i++)
        {
            string text = list[i].Text;
            hash.Append(MemoryMarshal.AsBytes(text.AsSpan()));
            running += TiktokenTokenEstimator.Default.CountTokens(text, "gpt-4o") + 4;
            keys[i] = hash.GetCurrentHashAsUInt128();
            tokens[i] = running;
            foreach (AIContent content in list[i].Contents)
            {
                if (content.AdditionalProperties?.TryGetValue("anthropic:cache_control", out object? control) == true && control is CacheControlEphemeral ephemeral)
                {
                    breakpoints.Add((i, ephemeral.Ttl?.Raw() == "1h" ? TimeSpan.FromHours(1) : TimeSpan.FromMinutes(5)));
                }
            }
        }

        // Read: the longest live prefix ending at a breakpoint or up to 20 blocks before one.
        long read = 0;
        int readAt = -1;
        foreach ((int index, TimeSpan _) in breakpoints)
        {
            for (int j = index; j >= Math.Max(0, index - 20); j--)
            {
                if (tokens[j] > read && _cache.TryGetValue(keys[j], out var entry) && entry.Expires > now)
                {
                    read = tokens[j];
                    readAt = j;
                }
            }
        }

        if (readAt >= 0)
        {
            // A read refreshes the entry's lifetime.
            TimeSpan lifetime = _cache[keys[readAt]].Ttl;
            _cache[keys[readAt]] = (now + lifetime, lifetime);
        }

        // Write: every breakpoint's prefix (of the minimum length) is cached for its lifetime from now; the tokens
        // beyond what was read, up to the last breakpoint, are billed as written.
        long written5m = 0, written1h = 0;
        long writtenUpTo = read;
        foreach ((int index, TimeSpan ttl) in breakpoints.OrderBy(static b => b.Index))
        {
            if (tokens[index] < Minimum)
            {
                continue;
            }

            bool live = _cache.TryGetValue(keys[index], out var entry) && entry.Expires > now;
            TimeSpan lifetime = live && entry.Ttl > ttl ? entry.Ttl : ttl;
            _cache[keys[index]] = (now + lifetime, lifetime);
            if (!live && tokens[index] > writtenUpTo)
            {
                long fresh = tokens[index] - writtenUpTo;
                written1h += ttl >= TimeSpan.FromHours(1) ? fresh : 0;
                written5m += ttl >= TimeSpan.FromHours(1) ? 0 : fresh;
                writtenUpTo = tokens[index];
            }
        }

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

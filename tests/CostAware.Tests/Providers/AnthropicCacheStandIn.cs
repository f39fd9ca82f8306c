using System.Globalization;
using System.IO.Hashing;
using System.Runtime.InteropServices;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace CostAware.Tests.Providers;

// The Messages API's prompt cache (the sample's AnthropicCacheRules) over the request JSON the SDK sends: blocks in order
// (system, then each message's content), a block with cache_control (5 minutes unless "1h") ending a prefix; usage reports
// input_tokens (what was neither read nor written), cache_read_input_tokens and cache_creation_input_tokens. Tokens are
// counted as words, which is what the stand-in needs to be consistent with itself.
internal sealed class AnthropicCacheStandIn(TimeProvider time)
{
    private readonly CostAware.Samples.ProviderCaching.AnthropicCacheRules _rules = new();

    public long Read { get; private set; }

    public long Written { get; private set; }

    public (string ContentType, string Body) Respond(string path, string body)
    {
        Assert.Equal("/v1/messages", path);
        DateTimeOffset now = time.GetUtcNow();
        JsonNode request = JsonNode.Parse(body)!;
        List<(UInt128 Key, long Tokens, TimeSpan? Ttl)> blocks = [];
        XxHash128 hash = new();
        long running = 0;
        void Add(JsonNode? block)
        {
            TimeSpan? ttl = null;
            string text;
            if (block is JsonObject o)
            {
                if (o["cache_control"] is JsonObject control)
                {
                    ttl = control["ttl"]?.GetValue<string>() == "1h" ? TimeSpan.FromHours(1) : TimeSpan.FromMinutes(5);
                }

                JsonObject copy = (JsonObject)o.DeepClone();
                _ = copy.Remove("cache_control");
                text = copy["text"]?.GetValue<string>() ?? copy.ToJsonString();
            }
            else
            {
                text = block?.GetValue<string>() ?? string.Empty;
            }

            hash.Append(MemoryMarshal.AsBytes(text.AsSpan()));
            running += text.Split(' ', StringSplitOptions.RemoveEmptyEntries).Length;
            blocks.Add((hash.GetCurrentHashAsUInt128(), running, ttl));
        }

        foreach (JsonNode? block in request["system"] is JsonArray system ? system : (request["system"] is { } s ? [s.DeepClone()] : []))
        {
            Add(block);
        }

        foreach (JsonNode? message in request["messages"]!.AsArray())
        {
            JsonNode content = message!["content"]!;
            foreach (JsonNode? block in content is JsonArray array ? array : [content.DeepClone()])
            {
                Add(block);
            }
        }

        (long read, long written5m, long written1h) = _rules.Apply(blocks, now);
        long written = written5m + written1h;
        Read += read;
        Written += written;
        string usage = string.Create(
            CultureInfo.InvariantCulture,
            $$"""{"input_tokens":{{running - read - written}},"output_tokens":10,"cache_creation_input_tokens":{{written}},"cache_read_input_tokens":{{read}}}""");
        return ("application/json", $$"""
            {"id":"msg","type":"message","role":"assistant","model":"claude-sonnet-4-5-20250929","content":[{"type":"text","text":"ok"}],
             "stop_reason":"end_turn","stop_sequence":null,"usage":{{usage}}}
            """);
    }
}

#pragma warning disable CAEXP001 // The provider cache hints are experimental.
using System.Text.Json;
using Anthropic;
using Anthropic.Core;
using CostAware.Tests.TestUtilities;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Time.Testing;

namespace CostAware.Tests.Providers;

// The stage's breakpoints as the official Anthropic SDK sends them: a loopback stand-in records each request's JSON and
// answers like the Messages API, with cache reads and writes in its usage.
public class AnthropicPromptCachingTests
{
    private const string Model = "claude-sonnet-4-5";
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 12, 6, 9, 0, 0, TimeSpan.Zero));

    private static string Answer(int read, int written) => $$$"""
        {"id":"msg_01","type":"message","role":"assistant","model":"claude-sonnet-4-5-20250929",
         "content":[{"type":"text","text":"Done."}],"stop_reason":"end_turn","stop_sequence":null,
         "usage":{"input_tokens":50,"output_tokens":10,"cache_creation_input_tokens":{{{written}}},"cache_read_input_tokens":{{{read}}}}}
        """;

    private static string Long(string seed) => string.Join(' ', Enumerable.Range(0, 1500).Select(i => $"{seed}{i % 89}"));

    // The cache_control of every block the request carried: (where, ttl), where is "system" or "messages[i]".
    private static List<(string Where, string Ttl)> Breakpoints(string body)
    {
        List<(string, string)> found = [];
        using JsonDocument request = JsonDocument.Parse(body);
        void Scan(JsonElement blocks, string where)
        {
            if (blocks.ValueKind != JsonValueKind.Array)
            {
                return;
            }

            foreach (JsonElement block in blocks.EnumerateArray())
            {
                if (block.TryGetProperty("cache_control", out JsonElement control))
                {
                    Assert.Equal("ephemeral", control.GetProperty("type").GetString());
                    found.Add((where, control.TryGetProperty("ttl", out JsonElement ttl) ? ttl.GetString()! : "default"));
                }
            }
        }

        if (request.RootElement.TryGetProperty("system", out JsonElement system))
        {
            Scan(system, "system");
        }

        int i = 0;
        foreach (JsonElement message in request.RootElement.GetProperty("messages").EnumerateArray())
        {
            Scan(message.GetProperty("content"), $"messages[{i++}]");
        }

        return found;
    }

    [Fact]
    public async Task ARecurringSystemPromptAndAnAgentLoop_CarryTheSdksCacheControl_AndTheReceiptSaysWhatItSaved()
    {
        List<string> bodies = [];
        await using LoopbackProviderServer server = new((path, body) =>
        {
            bodies.Add(body);
            return ("application/json", bodies.Count == 1 ? Answer(0, 0) : Answer(read: 3000, written: 400));
        });
        using IChatClient client = new AnthropicClient(new ClientOptions { ApiKey = "test-key", BaseUrl = server.BaseUri.ToString().TrimEnd('/'), MaxRetries = 0 })
            .AsIChatClient(Model)
            .AsBuilder()
            .Use(inner => new ProviderPromptCachingChatClient(inner, AnthropicPromptCacheHints.Instance, timeProvider: _time))
            .UseTokenMetering()
            .Build();
        List<ChatMessage> conversation = [new(ChatRole.System, Long("policy")), new(ChatRole.User, "Start the task.")];

        _ = await client.GetResponseAsync(conversation);
        _time.Advance(TimeSpan.FromSeconds(30));
        conversation.Add(new ChatMessage(ChatRole.Assistant, "Step one done."));
        conversation.Add(new ChatMessage(ChatRole.User, "Go on."));
        ChatResponse second = await client.GetResponseAsync(conversation);

        Assert.Empty(Breakpoints(bodies[0]));

        // The system prompt recurs (a read), the first request is extended (a read) and this one's tail is written.
        Assert.Equal([("messages[0]", "5m"), ("messages[2]", "5m"), ("system", "5m")], Breakpoints(bodies[1]).Order());
        Assert.True(second.GetCostReceipt()!.ProviderCacheSaved > 0m);
    }

    [Fact]
    public void Hints_KnowEachModelsMinimum_AndLeaveTheOriginalContentAlone()
    {
        Assert.Equal(1024, AnthropicPromptCacheHints.Instance.MinimumPrefixTokens("claude-sonnet-4-5"));
        Assert.Equal(4096, AnthropicPromptCacheHints.Instance.MinimumPrefixTokens("claude-haiku-4-5-20251001"));
        Assert.Equal(2048, AnthropicPromptCacheHints.Instance.MinimumPrefixTokens("claude-3-5-haiku-latest"));

        TextContent original = new("x");
        AIContent marked = AnthropicPromptCacheHints.Instance.MarkBreakpoint(original, TimeSpan.FromHours(1))!;
        Assert.NotSame(original, marked);
        Assert.Null(original.AdditionalProperties);
        Assert.NotNull(marked.AdditionalProperties);
        Assert.Null(AnthropicPromptCacheHints.Instance.MarkBreakpoint(new FunctionCallContent("c", "f"), TimeSpan.FromMinutes(5)));
    }

    // The same traffic through the SDK with and without the stage, against a stand-in that implements the cache on the
    // wire: what each run cost in input.
    private static async Task<(decimal Input, decimal Saved, AnthropicCacheStandIn Cache)> RunAsync(bool placed, Func<int, List<ChatMessage>> request, int calls)
    {
        FakeTimeProvider time = new(new DateTimeOffset(2026, 12, 6, 9, 0, 0, TimeSpan.Zero));
        AnthropicCacheStandIn cache = new(time);
        await using LoopbackProviderServer server = new(cache.Respond);
        ChatClientBuilder builder = new AnthropicClient(new ClientOptions { ApiKey = "test-key", BaseUrl = server.BaseUri.ToString().TrimEnd('/'), MaxRetries = 0 })
            .AsIChatClient(Model)
            .AsBuilder();
        if (placed)
        {
            builder = builder.Use(inner => new ProviderPromptCachingChatClient(inner, AnthropicPromptCacheHints.Instance, timeProvider: time));
        }

        using IChatClient client = builder.UseTokenMetering().Build();
        decimal input = 0m, saved = 0m;
        for (int i = 0; i < calls; i++)
        {
            ChatResponse response = await client.GetResponseAsync(request(i));
            CostReceiptEntry entry = response.GetCostReceipt()!.Entries[0];
            input += entry.Cost!.Value.Input + entry.Cost.Value.CachedInput + entry.Cost.Value.CacheWrite;
            saved += entry.ProviderCacheSaved!.Value;
            time.Advance(TimeSpan.FromSeconds(20));
        }

        return (input, saved, cache);
    }

    [Fact]
    public async Task OnTheWire_AnAgentLoopCostsLessThanHalf_AndPromptsThatNeverRecurCostTheSame()
    {
        // An agent loop: a 2,000-word system prompt, then a step and a tool result per turn, resent every turn.
        List<ChatMessage> loop = [new(ChatRole.System, Long("rule") + " " + Long("more")), new(ChatRole.User, "Start.")];
        List<ChatMessage> Turn(int i)
        {
            if (i > 0)
            {
                loop.Add(new ChatMessage(ChatRole.Assistant, $"step {i}"));
                loop.Add(new ChatMessage(ChatRole.User, Long($"tool{i}-")));
            }

            return loop;
        }

        (decimal uncachedLoop, _, _) = await RunAsync(placed: false, Turn, 8);
        loop = [new(ChatRole.System, Long("rule") + " " + Long("more")), new(ChatRole.User, "Start.")];
        (decimal cachedLoop, decimal savedLoop, AnthropicCacheStandIn loopCache) = await RunAsync(placed: true, Turn, 8);

        Assert.True(cachedLoop < uncachedLoop / 2, $"{cachedLoop} against {uncachedLoop}");
        Assert.True(loopCache.Read > 0);
        Assert.Equal(uncachedLoop - cachedLoop, savedLoop);

        // Prompts that never recur: nothing is marked, nothing is written.
        List<ChatMessage> Fresh(int i) => [new(ChatRole.System, Long($"doc{i}-")), new(ChatRole.User, "q")];
        (decimal uncachedFresh, _, _) = await RunAsync(placed: false, Fresh, 6);
        (decimal cachedFresh, _, AnthropicCacheStandIn freshCache) = await RunAsync(placed: true, Fresh, 6);

        Assert.Equal(uncachedFresh, cachedFresh);
        Assert.Equal(0, freshCache.Written);
    }
}

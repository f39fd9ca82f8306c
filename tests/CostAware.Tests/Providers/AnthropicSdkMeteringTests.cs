using Anthropic;
using Anthropic.Core;
using CostAware.Tests.TestUtilities;
using Microsoft.Extensions.AI;

namespace CostAware.Tests.Providers;

// The official Anthropic SDK's IChatClient against a loopback stand-in returning recorded Messages API JSON.
// The SDK reports cache writes under AdditionalCounts["CacheCreationInputTokens"] and counts cache reads and writes
// inside InputTokenCount; the receipt prices each class once.
public class AnthropicSdkMeteringTests
{
    private const string Message = """
        {"id":"msg_01","type":"message","role":"assistant","model":"claude-sonnet-4-5-20250929",
         "content":[{"type":"text","text":"She makes $18 a day."}],"stop_reason":"end_turn","stop_sequence":null,
         "usage":{"input_tokens":2000,"output_tokens":1000,"cache_creation_input_tokens":30000,"cache_read_input_tokens":50000,
                  "cache_creation":{"ephemeral_5m_input_tokens":30000,"ephemeral_1h_input_tokens":0},"service_tier":"standard"}}
        """;

    private const string Stream =
        "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_02\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"claude-haiku-4-5-20251001\",\"content\":[],\"stop_reason\":null,\"stop_sequence\":null,\"usage\":{\"input_tokens\":4000,\"output_tokens\":1,\"cache_creation_input_tokens\":0,\"cache_read_input_tokens\":6000}}}\n\n" +
        "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n" +
        "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Eighteen \"}}\n\n" +
        "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"dollars.\"}}\n\n" +
        "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n" +
        "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\",\"stop_sequence\":null},\"usage\":{\"input_tokens\":4000,\"output_tokens\":500,\"cache_creation_input_tokens\":0,\"cache_read_input_tokens\":6000}}\n\n" +
        "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n";

    private static IChatClient Client(LoopbackProviderServer server, string model) =>
        new AnthropicClient(new ClientOptions { ApiKey = "test-key", BaseUrl = server.BaseUri.ToString().TrimEnd('/'), MaxRetries = 0 })
            .AsIChatClient(model)
            .AsBuilder()
            .UseTokenMetering()
            .Build();

    [Fact]
    public async Task GetResponseAsync_CacheReadsAndWrites_ReceiptExactToTheCent()
    {
        await using LoopbackProviderServer server = new((path, _) =>
        {
            Assert.Equal("/v1/messages", path);
            return ("application/json", Message);
        });
        using IChatClient client = Client(server, "claude-sonnet-4-5");

        ChatResponse response = await client.GetResponseAsync("How much does Janet make?");

        CostReceiptEntry entry = Assert.Single(response.GetCostReceipt()!.Entries);
        Assert.Equal("claude-sonnet-4-5", entry.Price!.ModelId);
        Assert.Equal(new TokenCounts { Input = 82_000, CachedInput = 50_000, CacheWrite = 30_000, Output = 1_000 }, entry.Tokens);

        // Sonnet 4.5: $3 input, $0.30 cache read, $3.75 cache write, $15 output per million.
        Assert.Equal(0.006m, entry.Cost!.Value.Input);
        Assert.Equal(0.015m, entry.Cost.Value.CachedInput);
        Assert.Equal(0.1125m, entry.Cost.Value.CacheWrite);
        Assert.Equal(0.015m, entry.Cost.Value.Output);
        Assert.Equal(0.1485m, entry.Cost.Value.Total);
    }

    [Fact]
    public async Task GetStreamingResponseAsync_MessageStartAndDeltaUsage_MeteredOnce()
    {
        await using LoopbackProviderServer server = new((_, _) => ("text/event-stream", Stream));
        using IChatClient client = Client(server, "claude-haiku-4-5");

        List<ChatResponseUpdate> updates = [];
        await foreach (ChatResponseUpdate update in client.GetStreamingResponseAsync("How much does Janet make?"))
        {
            updates.Add(update);
        }

        CostReceipt receipt = updates[^1].GetCostReceipt()!;
        CostReceiptEntry entry = Assert.Single(receipt.Entries);
        Assert.False(entry.IsEstimated);
        Assert.Equal("Eighteen dollars.", updates.ToChatResponse().Text);
        Assert.Equal(new TokenCounts { Input = 10_000, CachedInput = 6_000, Output = 500 }, entry.Tokens);

        // Haiku 4.5: $1 input, $0.10 cache read, $5 output per million: 0.004 + 0.0006 + 0.0025.
        Assert.Equal(0.0071m, receipt.Spent);
    }
}

using System.ClientModel;
using CostAware.Tests.TestUtilities;
using Microsoft.Extensions.AI;
using OpenAI;

namespace CostAware.Tests.Providers;

// The official OpenAI SDK, through Microsoft.Extensions.AI.OpenAI, against a loopback stand-in that returns
// recorded chat-completions JSON: the receipt is exact for cached and reasoning tokens.
public class OpenAISdkMeteringTests
{
    // Shared with the prompt-cache test: a recorded o3 completion with cached and reasoning tokens.
    internal const string Completion = """
        {"id":"chatcmpl-1","object":"chat.completion","created":1763900000,"model":"o3-2025-04-16",
         "choices":[{"index":0,"message":{"role":"assistant","content":"The answer is 18."},"finish_reason":"stop"}],
         "usage":{"prompt_tokens":12000,"completion_tokens":3000,"total_tokens":15000,
                  "prompt_tokens_details":{"cached_tokens":8000,"audio_tokens":0},
                  "completion_tokens_details":{"reasoning_tokens":2500,"audio_tokens":0,"accepted_prediction_tokens":0,"rejected_prediction_tokens":0}}}
        """;

    private const string Stream =
        "data: {\"id\":\"chatcmpl-2\",\"object\":\"chat.completion.chunk\",\"created\":1763900000,\"model\":\"gpt-4o-2024-08-06\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"},\"finish_reason\":null}]}\n\n" +
        "data: {\"id\":\"chatcmpl-2\",\"object\":\"chat.completion.chunk\",\"created\":1763900000,\"model\":\"gpt-4o-2024-08-06\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Eighteen \"},\"finish_reason\":null}]}\n\n" +
        "data: {\"id\":\"chatcmpl-2\",\"object\":\"chat.completion.chunk\",\"created\":1763900000,\"model\":\"gpt-4o-2024-08-06\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"dollars.\"},\"finish_reason\":\"stop\"}]}\n\n" +
        "data: {\"id\":\"chatcmpl-2\",\"object\":\"chat.completion.chunk\",\"created\":1763900000,\"model\":\"gpt-4o-2024-08-06\",\"choices\":[],\"usage\":{\"prompt_tokens\":10000,\"completion_tokens\":2000,\"total_tokens\":12000,\"prompt_tokens_details\":{\"cached_tokens\":4000},\"completion_tokens_details\":{\"reasoning_tokens\":0}}}\n\n" +
        "data: [DONE]\n\n";

    private static IChatClient Client(LoopbackProviderServer server, string model) =>
        new OpenAI.Chat.ChatClient(model, new ApiKeyCredential("test-key"), new OpenAIClientOptions { Endpoint = new Uri(server.BaseUri, "/v1") })
            .AsIChatClient()
            .AsBuilder()
            .UseTokenMetering()
            .Build();

    [Fact]
    public async Task GetResponseAsync_ReasoningModelWithCachedInput_ReceiptExactToTheCent()
    {
        await using LoopbackProviderServer server = new((path, _) =>
        {
            Assert.Equal("/v1/chat/completions", path);
            return ("application/json", Completion);
        });
        using IChatClient client = Client(server, "o3");

        ChatResponse response = await client.GetResponseAsync("Janet's ducks lay 16 eggs per day...");

        CostReceiptEntry entry = Assert.Single(response.GetCostReceipt()!.Entries);
        Assert.Equal("o3-2025-04-16", entry.ModelId);
        Assert.Equal("openai", entry.Provider);
        Assert.Equal("o3", entry.Price!.ModelId);
        Assert.Equal(new TokenCounts { Input = 12_000, CachedInput = 8_000, Output = 3_000, Reasoning = 2_500 }, entry.Tokens);
        Assert.False(entry.IsEstimated);

        // o3: input $2, cached $0.50, output $8 per million; reasoning is billed as output.
        Assert.Equal(0.008m, entry.Cost!.Value.Input);
        Assert.Equal(0.004m, entry.Cost.Value.CachedInput);
        Assert.Equal(0.004m, entry.Cost.Value.Output);
        Assert.Equal(0.02m, entry.Cost.Value.Reasoning);
        Assert.Equal(0.036m, response.GetCostReceipt()!.Spent);
    }

    [Fact]
    public async Task GetStreamingResponseAsync_UsageChunk_ReceiptOnFinalUpdate()
    {
        await using LoopbackProviderServer server = new((_, _) => ("text/event-stream", Stream));
        using IChatClient client = Client(server, "gpt-4o");

        List<ChatResponseUpdate> updates = [];
        await foreach (ChatResponseUpdate update in client.GetStreamingResponseAsync("How much does Janet make?"))
        {
            updates.Add(update);
        }

        CostReceipt receipt = updates[^1].GetCostReceipt()!;
        CostReceiptEntry entry = Assert.Single(receipt.Entries);
        Assert.Equal(new TokenCounts { Input = 10_000, CachedInput = 4_000, Output = 2_000 }, entry.Tokens);
        Assert.False(entry.IsEstimated);

        // gpt-4o: $2.50 input, $1.25 cached, $10 output per million: 0.015 + 0.005 + 0.02.
        Assert.Equal(0.04m, receipt.Spent);
        Assert.Equal("Eighteen dollars.", updates.ToChatResponse().Text);
        Assert.Same(receipt, updates.ToChatResponse().GetCostReceipt());
        Assert.Contains("\"include_usage\":true", server.Requests.Single().Body, StringComparison.Ordinal);
    }
}

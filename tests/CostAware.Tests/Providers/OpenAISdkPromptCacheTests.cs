using System.ClientModel;
using CostAware.Tests.TestUtilities;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;
using OpenAI;

namespace CostAware.Tests.Providers;

// The prompt cache in front of the official OpenAI SDK (through Microsoft.Extensions.AI.OpenAI) and a loopback
// stand-in: a repeated question never reaches the server, a different sampling parameter does, and the hit's receipt
// avoids exactly what the first call spent.
public sealed class OpenAISdkPromptCacheTests
{
    private const string Completion = OpenAISdkMeteringTests.Completion;

    private const string Truncated = """
        {"id":"chatcmpl-2","object":"chat.completion","created":1763900000,"model":"o3-2025-04-16",
         "choices":[{"index":0,"message":{"role":"assistant","content":"The answer"},"finish_reason":"length"}],
         "usage":{"prompt_tokens":100,"completion_tokens":2,"total_tokens":102}}
        """;

    private static (IChatClient Client, ServiceProvider Services) Client(LoopbackProviderServer server)
    {
        ServiceProvider services = new ServiceCollection().AddCostAware().BuildServiceProvider();
        IChatClient client = new OpenAI.Chat.ChatClient("o3", new ApiKeyCredential("test-key"), new OpenAIClientOptions { Endpoint = new Uri(server.BaseUri, "/v1") })
            .AsIChatClient()
            .AsBuilder()
            .UsePromptCache()
            .UseTokenMetering()
            .Build(services);
        return (client, services);
    }

    [Fact]
    public async Task GetResponseAsync_RepeatedQuestion_NeverReachesTheServerAgain()
    {
        await using LoopbackProviderServer server = new((_, _) => ("application/json", Completion));
        (IChatClient client, ServiceProvider services) = Client(server);
        using ServiceProvider owned = services;

        ChatResponse first = await client.GetResponseAsync("Janet's ducks lay 16 eggs per day...", new ChatOptions { Temperature = 0f });
        ChatResponse second = await client.GetResponseAsync("Janet's ducks lay 16 eggs per day...", new ChatOptions { Temperature = 0f });
        _ = await client.GetResponseAsync("Janet's ducks lay 16 eggs per day...", new ChatOptions { Temperature = 0.7f });

        Assert.Equal(2, server.Requests.Count);
        Assert.Equal("The answer is 18.", second.Text);
        // o3: 4,000 uncached x $2 + 8,000 cached x $0.50 + 3,000 output (2,500 reasoning) x $8 per million = $0.036.
        Assert.Equal(0.036m, first.GetCostReceipt()!.Spent);
        Assert.Equal(0m, second.GetCostReceipt()!.Spent);
        Assert.Equal(0.036m, second.GetCostReceipt()!.Avoided);
        Assert.Equal(new TokenCounts { Input = 12_000, CachedInput = 8_000, Output = 3_000, Reasoning = 2_500 }, second.GetCostReceipt()!.Entries[0].Tokens);
        // The provider never saw CostAware's own keys.
        Assert.All(server.Requests, r => Assert.DoesNotContain("costaware", r.Body, StringComparison.Ordinal));
    }

    [Fact]
    public async Task GetResponseAsync_CutOffByLength_NotStored()
    {
        await using LoopbackProviderServer server = new((_, _) => ("application/json", Truncated));
        (IChatClient client, ServiceProvider services) = Client(server);
        using ServiceProvider owned = services;

        ChatResponse first = await client.GetResponseAsync("q");
        _ = await client.GetResponseAsync("q");

        Assert.Equal(ChatFinishReason.Length, first.FinishReason);
        Assert.Equal(2, server.Requests.Count);
    }
}

#pragma warning disable CAEXP001, SCME0001 // The provider cache hints and the SDK's JsonPatch are experimental.
using System.ClientModel;
using System.Text.Json;
using CostAware.Tests.TestUtilities;
using Microsoft.Extensions.AI;
using OpenAI;

namespace CostAware.Tests.Providers;

// The stage's routing key as the official OpenAI SDK sends it through Microsoft.Extensions.AI: a loopback stand-in
// records each request's JSON.
public class OpenAIPromptCachingTests
{
    private const string Completion = """
        {"id":"c","object":"chat.completion","created":1,"model":"gpt-4o","choices":[{"index":0,"message":{"role":"assistant","content":"hi"},"finish_reason":"stop"}],
         "usage":{"prompt_tokens":3000,"completion_tokens":1,"total_tokens":3001,"prompt_tokens_details":{"cached_tokens":2048}}}
        """;

    private static string Long(string seed) => string.Join(' ', Enumerable.Range(0, 1500).Select(i => $"{seed}{i % 89}"));

    private static string? Key(string body)
    {
        using JsonDocument request = JsonDocument.Parse(body);
        return request.RootElement.TryGetProperty("prompt_cache_key", out JsonElement key) ? key.GetString() : null;
    }

    [Fact]
    public async Task TheKeyIsAHashOfTenantAndPrefix_SentAsTheSdkSendsIt()
    {
        List<string> bodies = [];
        await using LoopbackProviderServer server = new((_, body) =>
        {
            bodies.Add(body);
            return ("application/json", Completion);
        });
        using IChatClient client = new OpenAI.Chat.ChatClient("gpt-4o", new ApiKeyCredential("k"), new OpenAIClientOptions { Endpoint = new Uri(server.BaseUri, "/v1") })
            .AsIChatClient()
            .AsBuilder()
            .UseOpenAIPromptCaching()
            .UseTokenMetering()
            .Build();
        string system = Long("policy");
        ChatOptions Acme() => new ChatOptions().WithCostScope(new CostScope { Tenant = "acme" });

        _ = await client.GetResponseAsync([new(ChatRole.System, system), new(ChatRole.User, "a")], Acme());
        _ = await client.GetResponseAsync([new(ChatRole.System, system), new(ChatRole.User, "b")], Acme());
        _ = await client.GetResponseAsync([new(ChatRole.System, system), new(ChatRole.User, "c")], new ChatOptions().WithCostScope(new CostScope { Tenant = "globex" }));
        _ = await client.GetResponseAsync([new(ChatRole.System, "Be brief."), new(ChatRole.User, "d")], Acme());

        string? first = Key(bodies[0]);
        Assert.NotNull(first);
        Assert.Matches("^ca-[0-9a-f]{32}$", first);
        Assert.Equal(first, Key(bodies[1]));
        Assert.NotEqual(first, Key(bodies[2]));
        Assert.Null(Key(bodies[3]));
        Assert.All(bodies, b => Assert.DoesNotContain("acme", b, StringComparison.Ordinal));
    }

    [Fact]
    public async Task TheCallersOwnSdkOptionsAreKept_AndAKeyTheyAlreadySetWins()
    {
        string? body = null;
        await using LoopbackProviderServer server = new((_, b) =>
        {
            body = b;
            return ("application/json", Completion);
        });
        using IChatClient client = new OpenAI.Chat.ChatClient("gpt-4o", new ApiKeyCredential("k"), new OpenAIClientOptions { Endpoint = new Uri(server.BaseUri, "/v1") })
            .AsIChatClient()
            .AsBuilder()
            .UseOpenAIPromptCaching()
            .Build();
        ChatOptions options = new()
        {
            RawRepresentationFactory = _ =>
            {
                OpenAI.Chat.ChatCompletionOptions own = new() { EndUserId = "user-7" };
                own.Patch.Set("$.prompt_cache_key"u8, "mine");
                return own;
            },
        };

        _ = await client.GetResponseAsync([new(ChatRole.System, Long("policy")), new(ChatRole.User, "q")], options);

        Assert.Equal("mine", Key(body!));
        Assert.Contains("\"user\":\"user-7\"", body, StringComparison.Ordinal);
    }
}

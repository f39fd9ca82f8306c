using System.ClientModel;
using System.Text;
using System.Text.Json.Nodes;
using CostAware.Batching.Internal;
using CostAware.Batching.OpenAI.Internal;
using CostAware.Batching.Anthropic.Internal;
using CostAware.Shared;
using CsCheck;
using Microsoft.Extensions.AI;
using OpenAI;

namespace CostAware.Batching.Tests.Internal;

// The OpenAI batch protocol, spoken by the official SDK to the loopback stand-in.
public sealed class OpenAIBatchProtocolTests : IAsyncLifetime
{
    private static readonly DateTimeOffset Now = new(2026, 11, 24, 2, 0, 0, TimeSpan.Zero);
    private OpenAIBatchStandIn _server = null!;
    private OpenAIBatchProtocol _protocol = null!;

    public async Task InitializeAsync()
    {
        _server = await OpenAIBatchStandIn.StartAsync();
        _protocol = new OpenAIBatchProtocol(new OpenAIClient(new ApiKeyCredential("sk-test"), new OpenAIClientOptions { Endpoint = _server.Endpoint }));
    }

    public async Task DisposeAsync() => await _server.DisposeAsync();

    private static async Task<DeferredCall> CallAsync(string id, string question) => new()
    {
        Id = id,
        Provider = "openai",
        Endpoint = OpenAIBatchProtocol.ChatCompletionsEndpoint,
        ModelId = "gpt-4o-mini",
        Body = await OpenAIChatCodec.BuildRequestAsync("gpt-4o-mini", [new ChatMessage(ChatRole.User, question)], new ChatOptions { MaxOutputTokens = 200, Temperature = 0 }, CancellationToken.None),
        CreatedAt = Now,
    };

    private static string Completion(string text, int input, int output) => new JsonObject
    {
        ["id"] = "chatcmpl-1",
        ["object"] = "chat.completion",
        ["created"] = 1_764_000_000,
        ["model"] = "gpt-4o-mini-2024-07-18",
        ["choices"] = new JsonArray(new JsonObject { ["index"] = 0, ["message"] = new JsonObject { ["role"] = "assistant", ["content"] = text }, ["finish_reason"] = "stop" }),
        ["usage"] = new JsonObject { ["prompt_tokens"] = input, ["completion_tokens"] = output, ["total_tokens"] = input + output },
    }.ToJsonString();

    [Fact]
    public async Task BuildRequestAsync_WritesTheBodyTheSdkWouldSend_WithoutCostAwareKeys()
    {
        ChatOptions options = new ChatOptions { MaxOutputTokens = 200, Temperature = 0, AdditionalProperties = new() { ["user"] = "u-1" } }
            .WithDeferral(Deferral.Unbounded).WithCostScope(new CostScope { Tenant = "acme" });

        byte[] body = await OpenAIChatCodec.BuildRequestAsync("gpt-4o-mini", [new ChatMessage(ChatRole.System, "Be brief."), new ChatMessage(ChatRole.User, "2+2?")], options, CancellationToken.None);

        JsonObject json = JsonNode.Parse(body)!.AsObject();
        Assert.Equal("gpt-4o-mini", json["model"]!.GetValue<string>());
        Assert.Equal(200, json["max_completion_tokens"]!.GetValue<int>());
        Assert.Equal(2, json["messages"]!.AsArray().Count);
        Assert.Equal("2+2?", json["messages"]![1]!["content"]!.GetValue<string>());
        Assert.DoesNotContain("costaware", Encoding.UTF8.GetString(body), StringComparison.Ordinal);
        Assert.Null(json["stream"]);
    }

    [Fact]
    public async Task ReadResponseAsync_ParsesTheCompletionAsTheSdkWould()
    {
        ChatResponse response = await OpenAIChatCodec.ReadResponseAsync("gpt-4o-mini", Encoding.UTF8.GetBytes(Completion("4", 12, 1)), CancellationToken.None);

        Assert.Equal("4", response.Text);
        Assert.Equal(12, response.Usage!.InputTokenCount);
        Assert.Equal(1, response.Usage.OutputTokenCount);
        Assert.Equal("gpt-4o-mini-2024-07-18", response.ModelId);
        Assert.Equal(ChatFinishReason.Stop, response.FinishReason);
    }

    [Fact]
    public async Task SubmitAsync_UploadsJsonlAndCreatesTheBatch()
    {
        DeferredCall a = await CallAsync("call-a", "What is 2+2?");
        DeferredCall b = await CallAsync("call-b", "What is 3+3?");

        string batchId = await _protocol.SubmitAsync("local-1", OpenAIBatchProtocol.ChatCompletionsEndpoint, [a, b], CancellationToken.None);

        Assert.Empty(_server.Problems);
        IReadOnlyList<JsonObject> lines = _server.InputLines(batchId);
        Assert.Equal(["call-a", "call-b"], lines.Select(l => l["custom_id"]!.GetValue<string>()));
        Assert.All(lines, l => Assert.Equal("/v1/chat/completions", l["url"]!.GetValue<string>()));
        Assert.Equal("What is 3+3?", lines[1]["body"]!["messages"]![0]!["content"]!.GetValue<string>());
        Assert.Equal("local-1", _server.Batches[batchId]["metadata"]!["costaware_batch"]!.GetValue<string>());
    }

    [Fact]
    public async Task GetStatusAndReadResults_EveryKindOfLine()
    {
        DeferredCall a = await CallAsync("call-a", "q1");
        string batchId = await _protocol.SubmitAsync("local-1", OpenAIBatchProtocol.ChatCompletionsEndpoint, [a], CancellationToken.None);

        Assert.Equal("validating", (await _protocol.GetStatusAsync(batchId, CancellationToken.None)).Status);
        _server.SetStatus(batchId, "in_progress");
        Assert.False((await _protocol.GetStatusAsync(batchId, CancellationToken.None)).IsTerminal);

        _server.SetStatus(
            batchId,
            "completed",
            output:
            [
                new JsonObject { ["id"] = "r1", ["custom_id"] = "call-a", ["response"] = new JsonObject { ["status_code"] = 200, ["request_id"] = "req1", ["body"] = JsonNode.Parse(Completion("4", 10, 1)) }, ["error"] = null }.ToJsonString(),
                new JsonObject { ["id"] = "r2", ["custom_id"] = "call-b", ["response"] = new JsonObject { ["status_code"] = 429, ["body"] = new JsonObject { ["error"] = new JsonObject { ["message"] = "rate limited" } } }, ["error"] = null }.ToJsonString(),
                "{not json",
            ],
            errors: [new JsonObject { ["id"] = "r3", ["custom_id"] = "call-c", ["response"] = null, ["error"] = new JsonObject { ["code"] = "batch_expired", ["message"] = "not run in time" } }.ToJsonString()]);
        ProviderBatchStatus status = await _protocol.GetStatusAsync(batchId, CancellationToken.None);
        IReadOnlyList<ProviderLineResult> results = await _protocol.ReadResultsAsync(status, CancellationToken.None);

        Assert.True(status.IsTerminal);
        Assert.Equal(4, results.Count);
        ProviderLineResult ok = results.Single(r => r.CustomId == "call-a");
        Assert.Equal("4", (await OpenAIChatCodec.ReadResponseAsync("gpt-4o-mini", ok.Body!, CancellationToken.None)).Text);
        Assert.StartsWith("HTTP 429: ", results.Single(r => r.CustomId == "call-b").Error, StringComparison.Ordinal);
        Assert.Equal("batch_expired: not run in time", results.Single(r => r.CustomId == "call-c").Error);
        Assert.StartsWith("malformed result line", results.Single(r => r.Malformed).Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task CancelAsync_MovesTheBatchToCancelling()
    {
        string batchId = await _protocol.SubmitAsync("local-1", OpenAIBatchProtocol.ChatCompletionsEndpoint, [await CallAsync("a", "q")], CancellationToken.None);

        await _protocol.CancelAsync(batchId, CancellationToken.None);

        Assert.Equal("cancelling", (await _protocol.GetStatusAsync(batchId, CancellationToken.None)).Status);
    }

    [Fact]
    public void ParseLine_AnyText_NeverThrows_ValidLinesRoundTrip()
    {
        Gen.String.Sample(text =>
        {
            ProviderLineResult result = OpenAIBatchProtocol.ParseLine(text);
            return result.Malformed || result.CustomId is not null;
        });
        Gen.Select(Gen.String[Gen.Char.AlphaNumeric, 1, 40], Gen.String[Gen.Char.AlphaNumeric, 0, 100]).Sample((id, content) =>
        {
            string line = new JsonObject { ["custom_id"] = id, ["response"] = new JsonObject { ["status_code"] = 200, ["body"] = new JsonObject { ["text"] = content } } }.ToJsonString();
            ProviderLineResult result = OpenAIBatchProtocol.ParseLine(line);
            return result.CustomId == id && !result.Malformed && JsonNode.Parse(result.Body!)!["text"]!.GetValue<string>() == content;
        });
    }
}

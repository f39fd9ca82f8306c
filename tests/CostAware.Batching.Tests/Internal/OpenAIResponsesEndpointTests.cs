using System.ClientModel;
using System.Text.Json.Nodes;
using CostAware.Batching.Internal;
using CostAware.Batching.OpenAI.Internal;
using CostAware.Batching.Anthropic.Internal;
using CostAware.Shared;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using OpenAI;

namespace CostAware.Batching.Tests.Internal;

// Batches of /v1/responses requests: written and read by the SDK's responses client, end to end through the stand-in.
public sealed class OpenAIResponsesEndpointTests : IAsyncLifetime
{
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 11, 24, 2, 0, 0, TimeSpan.Zero));
    private readonly string _path = Path.Combine(Path.GetTempPath(), $"costaware-responses-{Guid.NewGuid():N}.db");
    private OpenAIBatchStandIn _server = null!;

    public async Task InitializeAsync() => _server = await OpenAIBatchStandIn.StartAsync();

    public async Task DisposeAsync()
    {
        await _server.DisposeAsync();
        SqliteFiles.Delete(_path);
    }

    [Fact]
    public async Task BuildRequestAsync_ResponsesBody()
    {
        byte[] body = await OpenAIChatCodec.BuildRequestAsync(OpenAIBatchEndpoint.Responses, "gpt-4o-mini", [new ChatMessage(ChatRole.User, "2+2?")], new ChatOptions { MaxOutputTokens = 64 }, CancellationToken.None);

        JsonObject json = JsonNode.Parse(body)!.AsObject();
        Assert.Equal("gpt-4o-mini", json["model"]!.GetValue<string>());
        Assert.Equal(64, json["max_output_tokens"]!.GetValue<int>());
        Assert.NotNull(json["input"]);
        Assert.Null(json["messages"]);
    }

    [Fact]
    public async Task Deferred_ResponsesBatch_AnsweredAtBatchPrices()
    {
        OpenAIClient openai = new(new ApiKeyCredential("sk-test"), new OpenAIClientOptions { Endpoint = _server.Endpoint });
        await using DeferralCoordinator coordinator = new(
            new BatchDeferralOptions { QueuePath = _path, MaxWaitAlone = TimeSpan.Zero },
            [new OpenAIBatchProvider(openai, OpenAIBatchEndpoint.Responses)],
            PriceCatalog.BuiltIn,
            ledger: null,
            _time,
            NullLogger.Instance);
        using IChatClient client = new BatchDeferralChatClient(new CostAware.Tests.NoClient(), coordinator, _time, NullLogger.Instance);

        Task<ChatResponse> call = client.GetResponseAsync("What is 2+2?", new ChatOptions { ModelId = "gpt-4o-mini", MaxOutputTokens = 64 }.WithDeferral(Deferral.Unbounded));
        for (int i = 0; i < 100 && _server.Batches.IsEmpty; i++)
        {
            await coordinator.RunOnceAsync(CancellationToken.None);
            await Task.Delay(TimeSpan.FromMilliseconds(5), TimeProvider.System);
        }

        string batchId = Assert.Single(_server.Batches.Keys);
        Assert.Equal("/v1/responses", _server.Batches[batchId]["endpoint"]!.GetValue<string>());
        Assert.Equal("/v1/responses", _server.InputLines(batchId)[0]["url"]!.GetValue<string>());
        _server.CompleteAll(batchId, q => q.Contains("2+2", StringComparison.Ordinal) ? "4" : "?", inputTokens: 1_000, outputTokens: 500);
        for (int i = 0; i < 100 && !call.IsCompleted; i++)
        {
            _time.Advance(TimeSpan.FromMinutes(1));
            await coordinator.RunOnceAsync(CancellationToken.None);
            await Task.Delay(TimeSpan.FromMilliseconds(5), TimeProvider.System);
        }

        ChatResponse answer = await call;
        Assert.Equal("4", answer.Text);
        Assert.Equal(0.000225m, answer.GetCostReceipt()!.Spent);
        Assert.True(_server.Problems.IsEmpty, string.Join(" | ", _server.Problems));
    }
}

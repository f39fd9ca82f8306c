using System.Text.Json.Nodes;
using Anthropic;
using Anthropic.Core;
using CostAware.Batching.Internal;
using CostAware.Batching.OpenAI.Internal;
using CostAware.Batching.Anthropic.Internal;
using CostAware.Shared;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;

namespace CostAware.Batching.Tests;

// Anthropic Message Batches through the official Anthropic SDK, against the loopback stand-in.
public sealed class AnthropicBatchProviderTests : IAsyncLifetime
{
    private const string Model = "claude-haiku-4-5";
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 11, 24, 2, 0, 0, TimeSpan.Zero));
    private readonly string _path = Path.Combine(Path.GetTempPath(), $"costaware-anthropic-{Guid.NewGuid():N}.db");
    private readonly InMemoryCostLedger _ledger = new();
    private AnthropicBatchStandIn _server = null!;
    private DeferralCoordinator _coordinator = null!;

    public async Task InitializeAsync()
    {
        _server = await AnthropicBatchStandIn.StartAsync();
        AnthropicClient client = new(new ClientOptions { ApiKey = "test-key", BaseUrl = _server.BaseUrl, MaxRetries = 0 });
        _coordinator = new DeferralCoordinator(
            new BatchDeferralOptions { QueuePath = _path, MaxWait = TimeSpan.Zero, MaxWaitAlone = TimeSpan.Zero },
            [new AnthropicBatchProvider(client)],
            PriceCatalog.BuiltIn,
            _ledger,
            _time,
            NullLogger.Instance);
    }

    public async Task DisposeAsync()
    {
        await _coordinator.DisposeAsync();
        await _server.DisposeAsync();
        SqliteFiles.Delete(_path);
    }

    [Fact]
    public async Task BuildRequestAsync_TheMessagesBodyTheSdkWouldSend_NeverStreamed()
    {
        AnthropicBatchProvider provider = new(new AnthropicClient(new ClientOptions { ApiKey = "k", BaseUrl = _server.BaseUrl }));

        byte[] body = await provider.BuildRequestAsync(Model, [new ChatMessage(ChatRole.System, "Be brief."), new ChatMessage(ChatRole.User, "2+2?")], new ChatOptions { MaxOutputTokens = 300 }.WithDeferral(Deferral.Unbounded), CancellationToken.None);

        JsonObject json = JsonNode.Parse(body)!.AsObject();
        Assert.Equal(Model, json["model"]!.GetValue<string>());
        Assert.Equal(300, json["max_tokens"]!.GetValue<int>());
        Assert.NotNull(json["system"]);
        Assert.Null(json["stream"]);
        Assert.DoesNotContain("costaware", json.ToJsonString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Deferred_AwaitedCalls_SentAsOneMessageBatch_AnsweredAtHalfPrice()
    {
        using IChatClient client = new BatchDeferralChatClient(new ThrowingClient(), _coordinator, _time, NullLogger.Instance);
        ChatOptions options = new ChatOptions { ModelId = Model, MaxOutputTokens = 500 }.WithDeferral(Deferral.Unbounded).WithCostScope(new CostScope { Tenant = "acme" });

        Task<ChatResponse> first = client.GetResponseAsync("What is 2+2?", options);
        Task<ChatResponse> second = client.GetResponseAsync("Break the rules", options);
        for (int i = 0; i < 100 && _server.Batches.IsEmpty; i++)
        {
            await _coordinator.RunOnceAsync(CancellationToken.None);
            await Task.Delay(TimeSpan.FromMilliseconds(5), TimeProvider.System);
        }

        string batchId = Assert.Single(_server.Batches.Keys);
        Assert.Equal(2, _server.Requests[batchId].Count);
        await _coordinator.RunOnceAsync(CancellationToken.None);
        Assert.False(first.IsCompleted);

        _server.End(batchId, q => q.Contains("2+2", StringComparison.Ordinal) ? "4" : null);
        _time.Advance(TimeSpan.FromMinutes(1));
        for (int i = 0; i < 100 && !(first.IsCompleted && second.IsCompleted); i++)
        {
            await _coordinator.RunOnceAsync(CancellationToken.None);
            _time.Advance(TimeSpan.FromMinutes(1));
            await Task.Delay(TimeSpan.FromMilliseconds(5), TimeProvider.System);
        }

        ChatResponse answer = await first;
        Assert.Equal("4", answer.Text);
        CostReceiptEntry entry = Assert.Single(answer.GetCostReceipt()!.Entries);
        Assert.True(entry.IsBatch);
        Assert.Equal(1_000, entry.Tokens.Input);
        Assert.Equal(500, entry.Tokens.Output);
        Assert.True(PriceCatalog.BuiltIn.TryGetPrice(Model, out ModelPrice? price));
        Assert.Equal(price.CalculateCost(entry.Tokens).Total / 2, entry.Cost!.Value.Total);
        DeferredCallFailedException failed = await Assert.ThrowsAsync<DeferredCallFailedException>(() => second);
        Assert.Contains("invalid_request_error", failed.Error, StringComparison.Ordinal);
        Assert.True(_server.Problems.IsEmpty, string.Join(" | ", _server.Problems));
    }

    private sealed class ThrowingClient : IChatClient
    {
        public Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default) =>
            throw new InvalidOperationException("A deferred call must not be sent synchronously.");

        public IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default) =>
            throw new InvalidOperationException("A deferred call must not be sent synchronously.");

        public object? GetService(Type serviceType, object? serviceKey = null) => null;

        public void Dispose()
        {
        }
    }
}

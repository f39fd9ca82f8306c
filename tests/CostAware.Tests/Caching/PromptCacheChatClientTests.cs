using System.Text;
using CostAware.Tests.TestUtilities;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Caching.Hybrid;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using Microsoft.Extensions.Options;

namespace CostAware.Tests.Caching;

public sealed class PromptCacheChatClientTests : IDisposable
{
    // gpt-4o: 1,000 input x $2.50 + 200 output x $10 per million = $0.0045.
    private const decimal AnswerCost = 0.0045m;

    private readonly TestChatClient _inner = new();
    private readonly InMemoryCostLedger _ledger = new();
    private ServiceProvider? _services;

    public void Dispose() => _services?.Dispose();

    private static ChatResponse Answer(string text = "18", ChatFinishReason? finish = null) =>
        new(new ChatMessage(ChatRole.Assistant, text))
        {
            ModelId = "gpt-4o-2024-08-06",
            ResponseId = "resp-1",
            FinishReason = finish ?? ChatFinishReason.Stop,
            Usage = new UsageDetails { InputTokenCount = 1_000, OutputTokenCount = 200 },
        };

    private static ChatResponseUpdate[] Updates(params string[] chunks)
    {
        List<ChatResponseUpdate> updates = [.. chunks.Select(c => new ChatResponseUpdate(ChatRole.Assistant, c) { ModelId = "gpt-4o-2024-08-06", MessageId = "m1" })];
        updates.Add(new ChatResponseUpdate
        {
            Role = ChatRole.Assistant,
            FinishReason = ChatFinishReason.Stop,
            Contents = [new UsageContent(new UsageDetails { InputTokenCount = 1_000, OutputTokenCount = 200 })],
        });
        return [.. updates];
    }

    // PromptCache -> TokenMetering -> fake provider, with CostAware's services (HybridCache in memory).
    private IChatClient Pipeline(Action<PromptCacheOptions>? configure = null, HybridCache? cache = null)
    {
        _inner.GetResponseAsyncCallback ??= (_, _, _) => Task.FromResult(Answer());
        _inner.GetStreamingResponseAsyncCallback ??= (_, _, ct) => TestChatClient.Yield(Updates("1", "8"), cancellationToken: ct);
        ServiceCollection services = new();
        services.AddCostAware();
        services.AddSingleton<ICostLedger>(_ledger);
        _services = services.BuildServiceProvider();
        return new ChatClientBuilder(_inner).UsePromptCache(cache, configure).UseTokenMetering().Build(_services);
    }

    // The meter AddCostAware registers comes from the DI meter factory, which is its scope.
    private object MeterScope => _services!.GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>();

    private static ChatOptions Tenant(string tenant) => new ChatOptions().WithCostScope(new CostScope { Tenant = tenant });

    private static async Task<(string Text, CostReceipt? Receipt, int Updates)> Stream(IChatClient client, string prompt, ChatOptions? options = null)
    {
        List<ChatResponseUpdate> updates = [];
        await foreach (ChatResponseUpdate update in client.GetStreamingResponseAsync(prompt, options))
        {
            updates.Add(update);
        }

        return (updates.ToChatResponse().Text, updates.Select(u => u.GetCostReceipt()).LastOrDefault(r => r is not null), updates.Count(u => u.Contents.Count > 0));
    }

    [Fact]
    public async Task GetResponseAsync_RepeatedRequest_ServedFromCacheWithMoneyAvoidedAndNothingSpent()
    {
        IChatClient client = Pipeline();

        ChatResponse first = await client.GetResponseAsync("What is 9 + 9?");
        ChatResponse second = await client.GetResponseAsync("What is 9 + 9?");

        Assert.Equal(1, _inner.Calls);
        Assert.Equal("18", second.Text);
        Assert.Equal(ChatFinishReason.Stop, second.FinishReason);
        Assert.Equal("gpt-4o-2024-08-06", second.ModelId);
        Assert.Null(second.Usage);
        Assert.Equal(AnswerCost, first.GetCostReceipt()!.Spent);

        CostReceipt hit = second.GetCostReceipt()!;
        CostReceiptEntry entry = Assert.Single(hit.Entries);
        Assert.Equal(CostEntryKind.CacheHit, entry.Kind);
        Assert.Equal("prompt-cache", entry.Stage);
        Assert.Equal(0m, entry.Cost!.Value.Total);
        Assert.Equal(AnswerCost, entry.CostAvoided);
        Assert.Equal(0m, hit.Spent);
        Assert.Equal(AnswerCost, hit.Avoided);
        Assert.Equal(default, hit.Tokens);
        Assert.True(hit.IsFullyPriced);

        // The cache stage opened both receipts and recorded each once; metering inside did not record its own.
        List<CostLedgerRecord> rows = await _ledger.QueryAsync(CostLedgerQuery.All).ToListAsync();
        Assert.Equal([CostEntryKind.ProviderCall, CostEntryKind.CacheHit], rows.Select(r => r.Entry.Kind));
        Assert.Equal([first.GetCostReceipt()!.Id, hit.Id], rows.Select(r => r.ReceiptId));
    }

    [Fact]
    public async Task GetResponseAsync_Hit_ReturnsFreshObjectsEachTime()
    {
        IChatClient client = Pipeline();
        _ = await client.GetResponseAsync("q");

        ChatResponse a = await client.GetResponseAsync("q");
        a.Messages[0].Contents.Clear();
        ChatResponse b = await client.GetResponseAsync("q");

        Assert.Equal("18", b.Text);
        Assert.NotSame(a.Messages[0], b.Messages[0]);
    }

    [Fact]
    public async Task GetResponseAsync_SamePromptOtherTenant_NeverServedTheFirstTenantsEntry()
    {
        IChatClient client = Pipeline();

        _ = await client.GetResponseAsync("Summarise our contract", Tenant("acme"));
        ChatResponse other = await client.GetResponseAsync("Summarise our contract", Tenant("globex"));
        using (AmbientCostScope.Begin(new CostScope { Tenant = "initech" }))
        {
            _ = await client.GetResponseAsync("Summarise our contract");
        }

        ChatResponse again = await client.GetResponseAsync("Summarise our contract", Tenant("acme"));

        Assert.Equal(3, _inner.Calls);
        Assert.Equal(CostEntryKind.ProviderCall, Assert.Single(other.GetCostReceipt()!.Entries).Kind);
        Assert.Equal(CostEntryKind.CacheHit, Assert.Single(again.GetCostReceipt()!.Entries).Kind);
        Assert.Equal("acme", again.GetCostReceipt()!.Scope.Tenant);
    }

    [Fact]
    public async Task GetResponseAsync_DeclaredSharedPartition_SharedAcrossTenants()
    {
        IChatClient client = Pipeline(o => o.SharedPartitions.Add("public-faq"));
        CacheControl faq = new() { SharedPartition = "public-faq" };

        _ = await client.GetResponseAsync("What are your opening hours?", Tenant("acme").WithCacheControl(faq));
        ChatResponse other = await client.GetResponseAsync("What are your opening hours?", Tenant("globex").WithCacheControl(faq));
        ChatResponse notShared = await client.GetResponseAsync("What are your opening hours?", Tenant("globex"));

        Assert.Equal(2, _inner.Calls);
        Assert.Equal(CostEntryKind.CacheHit, Assert.Single(other.GetCostReceipt()!.Entries).Kind);
        Assert.Equal("globex", other.GetCostReceipt()!.Scope.Tenant);
        Assert.Equal(CostEntryKind.ProviderCall, Assert.Single(notShared.GetCostReceipt()!.Entries).Kind);
    }

    [Fact]
    public async Task GetResponseAsync_UndeclaredSharedPartition_RefusedBeforeAnyCall()
    {
        IChatClient client = Pipeline();

        ArgumentException ex = await Assert.ThrowsAsync<ArgumentException>(
            () => client.GetResponseAsync("q", Tenant("acme").WithCacheControl(new CacheControl { SharedPartition = "public-faq" })));

        Assert.StartsWith(
            "The request names the shared cache partition 'public-faq', which PromptCacheOptions.SharedPartitions does not list.", ex.Message);
        Assert.Equal(0, _inner.Calls);
    }

    public static TheoryData<string, ChatResponse> Unstorable => new()
    {
        { "length", Answer("The answer is", ChatFinishReason.Length) },
        { "content_filter", Answer("", ChatFinishReason.ContentFilter) },
        { "tool_calls", new ChatResponse(new ChatMessage(ChatRole.Assistant, [new FunctionCallContent("c1", "add", new Dictionary<string, object?> { ["a"] = 9 })])) { FinishReason = ChatFinishReason.ToolCalls } },
        { "error", new ChatResponse(new ChatMessage(ChatRole.Assistant, [new ErrorContent("rate limited")])) },
        { "empty", new ChatResponse(new ChatMessage(ChatRole.Assistant, [])) },
        { "incomplete", new ChatResponse(new ChatMessage(ChatRole.Assistant, "partial")) { ContinuationToken = ResponseContinuationToken.FromBytes(new byte[] { 1 }) } },
    };

    [Theory]
    [MemberData(nameof(Unstorable))]
    public async Task GetResponseAsync_UnstorableAnswer_ReturnedButNeverStored(string reason, ChatResponse answer)
    {
        _inner.GetResponseAsyncCallback = (_, _, _) => Task.FromResult(answer);
        IChatClient client = Pipeline();
        using MetricCollector<long> notStored = new(MeterScope, CostAwareTelemetry.Name, "costaware.cache.not_stored");

        ChatResponse first = await client.GetResponseAsync("q");
        _ = await client.GetResponseAsync("q");

        Assert.Same(answer, first);
        Assert.Equal(2, _inner.Calls);
        Assert.Contains(notStored.GetMeasurementSnapshot(), m => Equals(m.Tags["costaware.cache.reason"], reason) && Equals(m.Tags["costaware.cache.name"], "prompt"));
    }

    [Fact]
    public async Task GetResponseAsync_ToolCallsOptedIn_Stored()
    {
        _inner.GetResponseAsyncCallback = (_, _, _) => Task.FromResult(new ChatResponse(
            new ChatMessage(ChatRole.Assistant, [new FunctionCallContent("c1", "add", new Dictionary<string, object?> { ["a"] = 9 })]))
        { FinishReason = ChatFinishReason.ToolCalls });
        IChatClient client = Pipeline(o => o.CacheToolCallResponses = true);

        _ = await client.GetResponseAsync("q");
        ChatResponse hit = await client.GetResponseAsync("q");

        Assert.Equal(1, _inner.Calls);
        FunctionCallContent call = Assert.IsType<FunctionCallContent>(Assert.Single(hit.Messages[0].Contents));
        Assert.Equal("add", call.Name);
        Assert.Equal("9", call.Arguments!["a"]!.ToString());
    }

    [Fact]
    public async Task GetResponseAsync_ProviderError_NotStoredAndNextCallRetries()
    {
        int calls = 0;
        _inner.GetResponseAsyncCallback = (_, _, _) =>
            Interlocked.Increment(ref calls) == 1 ? throw new HttpRequestException("503") : Task.FromResult(Answer());
        IChatClient client = Pipeline();

        _ = await Assert.ThrowsAsync<HttpRequestException>(() => client.GetResponseAsync("q"));
        _ = await client.GetResponseAsync("q");
        _ = await client.GetResponseAsync("q");

        Assert.Equal(2, _inner.Calls);
    }

    [Fact]
    public async Task GetResponseAsync_Cancelled_NotStored()
    {
        TaskCompletionSource called = new(TaskCreationOptions.RunContinuationsAsynchronously);
        _inner.GetResponseAsyncCallback = async (_, _, ct) =>
        {
            called.TrySetResult();
            TaskCompletionSource never = new();
            await never.Task.WaitAsync(ct);
            return Answer();
        };
        IChatClient client = Pipeline();
        using CancellationTokenSource cts = new();

        // Cancelled while the provider call is under way (not before it starts, which would be a different test).
        Task<ChatResponse> pending = client.GetResponseAsync("q", cancellationToken: cts.Token);
        await called.Task.WaitAsync(TimeSpan.FromSeconds(30));
        await cts.CancelAsync();
        _ = await Assert.ThrowsAnyAsync<OperationCanceledException>(() => pending);

        _inner.GetResponseAsyncCallback = (_, _, _) => Task.FromResult(Answer());
        _ = await client.GetResponseAsync("q");
        Assert.Equal(2, _inner.Calls);
    }

    [Fact]
    public async Task GetResponseAsync_NoCache_CallsProviderAndRefreshesEntry()
    {
        int n = 0;
        _inner.GetResponseAsyncCallback = (_, _, _) => Task.FromResult(Answer($"v{Interlocked.Increment(ref n)}"));
        IChatClient client = Pipeline();

        _ = await client.GetResponseAsync("q");
        ChatResponse refreshed = await client.GetResponseAsync("q", new ChatOptions().WithCacheControl(CacheControl.NoCache));
        ChatResponse hit = await client.GetResponseAsync("q");

        Assert.Equal("v2", refreshed.Text);
        Assert.Equal("v2", hit.Text);
        Assert.Equal(2, _inner.Calls);
    }

    [Fact]
    public async Task GetResponseAsync_NoStore_ServesButDoesNotStore()
    {
        IChatClient client = Pipeline();

        _ = await client.GetResponseAsync("q", new ChatOptions().WithCacheControl(CacheControl.NoStore));
        _ = await client.GetResponseAsync("q", new ChatOptions().WithCacheControl(CacheControl.NoStore));
        _ = await client.GetResponseAsync("q");
        ChatResponse hit = await client.GetResponseAsync("q", new ChatOptions().WithCacheControl(CacheControl.NoStore));

        Assert.Equal(3, _inner.Calls);
        Assert.Equal(CostEntryKind.CacheHit, Assert.Single(hit.GetCostReceipt()!.Entries).Kind);
    }

    [Fact]
    public async Task GetResponseAsync_TimeToLive_DefaultAndPerRequestOverride()
    {
        ServiceCollection services = new();
        services.AddCostAware();
        using ServiceProvider provider = services.BuildServiceProvider();
        RecordingHybridCache cache = new(provider.GetRequiredService<HybridCache>());
        IChatClient client = Pipeline(o => { o.TimeToLive = TimeSpan.FromMinutes(30); o.LocalTimeToLive = TimeSpan.FromMinutes(5); }, cache);

        _ = await client.GetResponseAsync("a");
        _ = await client.GetResponseAsync("b", new ChatOptions().WithCacheControl(new CacheControl { TimeToLive = TimeSpan.FromDays(2) }));
        _ = await client.GetResponseAsync("c", new ChatOptions().WithCacheControl(new CacheControl { TimeToLive = TimeSpan.FromMinutes(1) }));

        Assert.Equal([TimeSpan.FromMinutes(30), TimeSpan.FromDays(2), TimeSpan.FromMinutes(1)], cache.Options.Select(o => o!.Expiration!.Value));
        Assert.Equal([TimeSpan.FromMinutes(5), TimeSpan.FromMinutes(5), TimeSpan.FromMinutes(1)], cache.Options.Select(o => o!.LocalCacheExpiration!.Value));
        Assert.All(cache.Tags, t => Assert.Equal(["costaware:prompt", "costaware:prompt:t"], t));
    }

    [Fact]
    public async Task GetResponseAsync_ConversationId_Bypassed()
    {
        IChatClient client = Pipeline();

        _ = await client.GetResponseAsync("q", new ChatOptions { ConversationId = "conv-1" });
        ChatResponse second = await client.GetResponseAsync("q", new ChatOptions { ConversationId = "conv-1" });

        Assert.Equal(2, _inner.Calls);
        Assert.Equal("metering", Assert.Single(second.GetCostReceipt()!.Entries).Stage);
    }

    [Fact]
    public async Task GetResponseAsync_ConcurrentIdenticalMisses_OneProviderCall()
    {
        const int Callers = 16;
        TaskCompletionSource gate = new(TaskCreationOptions.RunContinuationsAsynchronously);
        _inner.GetResponseAsyncCallback = async (_, _, _) =>
        {
            await gate.Task;
            return Answer();
        };
        IChatClient client = Pipeline();
        using CancellationTokenSource cts = new();

        // Each call registers with the cache before its task is returned, so all have joined when the gate opens.
        Task<ChatResponse>[] calls = [.. Enumerable.Range(0, Callers).Select(_ => client.GetResponseAsync("q", cancellationToken: cts.Token))];
        gate.SetResult();
        ChatResponse[] responses = await Task.WhenAll(calls);

        Assert.Equal(1, _inner.Calls);
        Assert.All(responses, r => Assert.Equal("18", r.Text));
        Assert.Equal(1, responses.Count(r => r.GetCostReceipt()!.Entries[0].Kind == CostEntryKind.ProviderCall));
        Assert.Equal(Callers - 1, responses.Count(r => r.GetCostReceipt()!.Entries[0].Kind == CostEntryKind.CacheHit));
        Assert.Equal(AnswerCost * (Callers - 1), responses.Sum(r => r.GetCostReceipt()!.Avoided));
    }

    [Fact]
    public async Task GetResponseAsync_OwnerCancelsWhileAnotherWaits_AnswerStoredAndPaidCallRecorded()
    {
        TaskCompletionSource gate = new(TaskCreationOptions.RunContinuationsAsynchronously);
        _inner.GetResponseAsyncCallback = async (_, _, _) =>
        {
            await gate.Task;
            return Answer();
        };
        IChatClient client = Pipeline();
        using CancellationTokenSource cts = new();

        Task<ChatResponse> owner = client.GetResponseAsync("q", cancellationToken: cts.Token);
        Task<ChatResponse> waiter = client.GetResponseAsync("q");
        await cts.CancelAsync();
        _ = await Assert.ThrowsAnyAsync<OperationCanceledException>(() => owner);
        gate.SetResult();
        ChatResponse served = await waiter;

        Assert.Equal(1, _inner.Calls);
        Assert.Equal(CostEntryKind.CacheHit, Assert.Single(served.GetCostReceipt()!.Entries).Kind);

        // The owner's receipt is recorded when the provider call it started ends, after the owner stopped waiting.
        List<CostLedgerRecord> rows = [];
        for (int i = 0; i < 500 && rows.Count < 2; i++)
        {
            await Task.Delay(TimeSpan.FromMilliseconds(10), TimeProvider.System);
            rows = await _ledger.QueryAsync(CostLedgerQuery.All).ToListAsync();
        }

        Assert.Equal(AnswerCost, Assert.Single(rows, r => r.Entry.Kind == CostEntryKind.ProviderCall).Entry.Cost!.Value.Total);
        Assert.Single(rows, r => r.Entry.Kind == CostEntryKind.CacheHit);
    }

    [Fact]
    public async Task GetResponseAsync_ConcurrentMissesWithUnstorableAnswer_EachCallerGetsItsOwn()
    {
        const int Callers = 4;
        TaskCompletionSource gate = new(TaskCreationOptions.RunContinuationsAsynchronously);
        int n = 0;
        _inner.GetResponseAsyncCallback = async (_, _, _) =>
        {
            await gate.Task;
            return Answer($"cut {Interlocked.Increment(ref n)}", ChatFinishReason.Length);
        };
        IChatClient client = Pipeline();

        Task<ChatResponse>[] calls = [.. Enumerable.Range(0, Callers).Select(_ => client.GetResponseAsync("q"))];
        gate.SetResult();
        ChatResponse[] responses = await Task.WhenAll(calls);

        Assert.Equal(Callers, _inner.Calls);
        Assert.Equal(Callers, responses.Select(r => r.Text).Distinct().Count());
        Assert.All(responses, r => Assert.Equal(CostEntryKind.ProviderCall, Assert.Single(r.GetCostReceipt()!.Entries).Kind));
    }

    [Fact]
    public async Task GetStreamingResponseAsync_MissThenHit_ReplaysAsStreamWithReceipt()
    {
        IChatClient client = Pipeline();

        (string missText, CostReceipt? missReceipt, _) = await Stream(client, "q");
        (string hitText, CostReceipt? hitReceipt, int hitUpdates) = await Stream(client, "q");

        Assert.Equal(1, _inner.Calls);
        Assert.Equal("18", missText);
        Assert.Equal("18", hitText);
        Assert.Equal(1, hitUpdates);
        Assert.Equal(AnswerCost, missReceipt!.Spent);
        CostReceiptEntry entry = Assert.Single(hitReceipt!.Entries);
        Assert.Equal(CostEntryKind.CacheHit, entry.Kind);
        Assert.Equal(AnswerCost, entry.CostAvoided);
        Assert.Equal(2, await _ledger.QueryAsync(CostLedgerQuery.All).CountAsync());
    }

    [Fact]
    public async Task GetStreamingResponseAsync_NotCoalesced_ReplaysOriginalChunks()
    {
        IChatClient client = Pipeline(o => o.CoalesceStreamingUpdates = false);

        _ = await Stream(client, "q");
        (string text, _, int updates) = await Stream(client, "q");

        Assert.Equal("18", text);
        Assert.Equal(2, updates);
    }

    [Fact]
    public async Task GetResponseAsync_FromStreamedEntry_AndStreamFromNonStreamedEntry()
    {
        IChatClient client = Pipeline();

        _ = await Stream(client, "streamed first");
        ChatResponse fromStream = await client.GetResponseAsync("streamed first");
        _ = await client.GetResponseAsync("whole first");
        (string text, CostReceipt? receipt, _) = await Stream(client, "whole first");

        Assert.Equal(2, _inner.Calls);
        Assert.Equal("18", fromStream.Text);
        Assert.Equal(ChatFinishReason.Stop, fromStream.FinishReason);
        Assert.Equal(CostEntryKind.CacheHit, Assert.Single(fromStream.GetCostReceipt()!.Entries).Kind);
        Assert.Equal("18", text);
        Assert.Equal(CostEntryKind.CacheHit, Assert.Single(receipt!.Entries).Kind);
    }

    [Fact]
    public async Task GetStreamingResponseAsync_ConsumerStopsBeforeProviderFinishes_PartialNotStoredButPaidPartMetered()
    {
        int n = 0;
        _inner.GetStreamingResponseAsyncCallback = (_, _, ct) => Interlocked.Increment(ref n) == 1 ? FirstChunkThenHang(ct) : TestChatClient.Yield(Updates("1", "8"), cancellationToken: ct);
        IChatClient client = Pipeline();

        await foreach (ChatResponseUpdate update in client.GetStreamingResponseAsync("q"))
        {
            break;
        }

        (string text, _, _) = await Stream(client, "q");

        Assert.Equal("18", text);
        Assert.Equal(2, _inner.Calls);
        // The abandoned stream's receipt was recorded (estimated from what was streamed), then the complete one.
        List<CostLedgerRecord> rows = await _ledger.QueryAsync(CostLedgerQuery.All).ToListAsync();
        Assert.Equal(2, rows.Count);
        Assert.True(rows[0].Entry.IsEstimated);
        Assert.False(rows[1].Entry.IsEstimated);
    }

    [Fact]
    public async Task GetStreamingResponseAsync_ProviderFailsMidStream_ErrorSurfacesAndNothingStored()
    {
        int n = 0;
        _inner.GetStreamingResponseAsyncCallback = (_, _, ct) => Interlocked.Increment(ref n) == 1
            ? TestChatClient.Yield(Updates("1"), new HttpRequestException("connection reset"), ct)
            : TestChatClient.Yield(Updates("1", "8"), cancellationToken: ct);
        IChatClient client = Pipeline();

        _ = await Assert.ThrowsAsync<HttpRequestException>(() => Stream(client, "q"));
        (string text, _, _) = await Stream(client, "q");
        _ = await Stream(client, "q");

        Assert.Equal("18", text);
        Assert.Equal(2, _inner.Calls);
    }

    [Fact]
    public async Task GetStreamingResponseAsync_ConcurrentIdenticalMisses_OneProviderCall()
    {
        const int Callers = 8;
        TaskCompletionSource gate = new(TaskCreationOptions.RunContinuationsAsynchronously);
        _inner.GetStreamingResponseAsyncCallback = (_, _, ct) => Gated(gate.Task, ct);
        IChatClient client = Pipeline();

        // Each stream registers with the cache before its first await, so all have joined when the gate opens.
        Task<(string, CostReceipt?, int)>[] calls = [.. Enumerable.Range(0, Callers).Select(_ => Stream(client, "q"))];
        gate.SetResult();
        (string Text, CostReceipt? Receipt, int)[] results = await Task.WhenAll(calls);

        Assert.Equal(1, _inner.Calls);
        Assert.All(results, r => Assert.Equal("18", r.Text));
        Assert.Equal(Callers - 1, results.Count(r => r.Receipt!.Entries[0].Kind == CostEntryKind.CacheHit));

        static async IAsyncEnumerable<ChatResponseUpdate> Gated(Task gate, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken ct)
        {
            await gate;
            await foreach (ChatResponseUpdate u in TestChatClient.Yield(Updates("1", "8"), cancellationToken: ct))
            {
                yield return u;
            }
        }
    }

    [Fact]
    public async Task Invalidation_ByKeyTenantAndAll()
    {
        IChatClient client = Pipeline();
        PromptCacheChatClient cache = client.GetService<PromptCacheChatClient>()!;
        async Task<CostEntryKind> Ask(string prompt, string tenant) =>
            (await client.GetResponseAsync(prompt, Tenant(tenant))).GetCostReceipt()!.Entries[0].Kind;

        foreach (string tenant in new[] { "acme", "globex" })
        {
            _ = await Ask("a", tenant);
            _ = await Ask("b", tenant);
        }

        await cache.RemoveAsync(cache.GetCacheKey([new ChatMessage(ChatRole.User, "a")], Tenant("acme"))!);
        Assert.Equal(CostEntryKind.ProviderCall, await Ask("a", "acme"));
        Assert.Equal(CostEntryKind.CacheHit, await Ask("b", "acme"));

        await cache.InvalidateTenantAsync("acme");
        Assert.Equal(CostEntryKind.ProviderCall, await Ask("b", "acme"));
        Assert.Equal(CostEntryKind.CacheHit, await Ask("b", "globex"));

        await cache.InvalidateAllAsync();
        Assert.Equal(CostEntryKind.ProviderCall, await Ask("b", "globex"));
    }

    [Fact]
    public async Task Metrics_ScopeTurnedOn_HitsMissesAndCostAvoidedByScope()
    {
        IChatClient client = Pipeline(o => o.IncludeScopeInMetrics = true);
        using MetricCollector<long> lookups = new(MeterScope, CostAwareTelemetry.Name, "costaware.cache.lookups");
        using MetricCollector<double> avoided = new(MeterScope, CostAwareTelemetry.Name, "costaware.cost.avoided");

        _ = await client.GetResponseAsync("q", Tenant("acme"));
        _ = await client.GetResponseAsync("q", Tenant("acme"));
        _ = await client.GetResponseAsync("q", new ChatOptions { ConversationId = "c" }.WithCostScope(new CostScope { Tenant = "acme" }));

        Assert.Equal(["miss", "hit", "bypass"], lookups.GetMeasurementSnapshot().Select(m => (string)m.Tags["costaware.cache.result"]!));
        Assert.All(lookups.GetMeasurementSnapshot(), m => Assert.Equal("acme", m.Tags["costaware.scope.tenant"]));
        CollectedMeasurement<double> saved = Assert.Single(avoided.GetMeasurementSnapshot());
        Assert.Equal((double)AnswerCost, saved.Value);
        Assert.Equal("acme", saved.Tags["costaware.scope.tenant"]);
    }

    [Fact]
    public async Task GetStreamingResponseAsync_CancelledMidStream_NotStored()
    {
        int n = 0;
        _inner.GetStreamingResponseAsyncCallback = (_, _, ct) => Interlocked.Increment(ref n) == 1 ? FirstChunkThenHang(ct) : TestChatClient.Yield(Updates("1", "8"), cancellationToken: ct);
        IChatClient client = Pipeline();
        using CancellationTokenSource cts = new();

        _ = await Assert.ThrowsAnyAsync<OperationCanceledException>(async () =>
        {
            await foreach (ChatResponseUpdate update in client.GetStreamingResponseAsync("q", cancellationToken: cts.Token))
            {
                await cts.CancelAsync();
            }
        });
        (string text, _, _) = await Stream(client, "q");

        Assert.Equal("18", text);
        Assert.Equal(2, _inner.Calls);
    }

    [Fact]
    public async Task HybridCacheWithoutCostAwareSerializer_EntriesStillTravelThroughL2InCostAwareFormat()
    {
        // Two nodes whose HybridCache was registered by the app alone (System.Text.Json for unknown types), sharing L2.
        SharedDistributedCache l2 = new();
        HybridCache NodeCache()
        {
            ServiceCollection services = new();
            services.AddSingleton<Microsoft.Extensions.Caching.Distributed.IDistributedCache>(l2);
            _ = services.AddHybridCache();
            return services.BuildServiceProvider().GetRequiredService<HybridCache>();
        }

        TestChatClient innerA = new() { GetResponseAsyncCallback = (_, _, _) => Task.FromResult(Answer()) };
        TestChatClient innerB = new() { GetResponseAsyncCallback = (_, _, _) => Task.FromResult(Answer()) };
        using PromptCacheChatClient a = new(innerA, NodeCache());
        using PromptCacheChatClient b = new(innerB, NodeCache());

        _ = await a.GetResponseAsync("q");
        for (int i = 0; i < 200 && l2.Count == 0; i++)
        {
            await Task.Delay(TimeSpan.FromMilliseconds(10), TimeProvider.System);
        }

        ChatResponse hit = await b.GetResponseAsync("q");

        Assert.Equal(0, innerB.Calls);
        Assert.Equal("18", hit.Text);
        Assert.Equal(AnswerCost, hit.GetCostReceipt()!.Avoided);
        Assert.Contains("Q0FQQw", Encoding.UTF8.GetString(l2.Values.Single()), StringComparison.Ordinal); // base64 of "CAPC"
    }

    private static async IAsyncEnumerable<ChatResponseUpdate> FirstChunkThenHang([System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken ct)
    {
        yield return new ChatResponseUpdate(ChatRole.Assistant, "1") { ModelId = "gpt-4o-2024-08-06" };
        await new TaskCompletionSource().Task.WaitAsync(ct);
    }

    // An IDistributedCache that HybridCache does not recognise as its own memory cache, so it is used as a real L2.
    private sealed class SharedDistributedCache : Microsoft.Extensions.Caching.Distributed.IDistributedCache
    {
        private readonly System.Collections.Concurrent.ConcurrentDictionary<string, byte[]> _values = new();

        public int Count => _values.Count;

        public ICollection<byte[]> Values => _values.Values;

        public byte[]? Get(string key) => _values.TryGetValue(key, out byte[]? v) ? v : null;

        public Task<byte[]?> GetAsync(string key, CancellationToken token = default) => Task.FromResult(Get(key));

        public void Refresh(string key)
        {
        }

        public Task RefreshAsync(string key, CancellationToken token = default) => Task.CompletedTask;

        public void Remove(string key) => _values.TryRemove(key, out _);

        public Task RemoveAsync(string key, CancellationToken token = default)
        {
            Remove(key);
            return Task.CompletedTask;
        }

        public void Set(string key, byte[] value, Microsoft.Extensions.Caching.Distributed.DistributedCacheEntryOptions options) => _values[key] = value;

        public Task SetAsync(string key, byte[] value, Microsoft.Extensions.Caching.Distributed.DistributedCacheEntryOptions options, CancellationToken token = default)
        {
            Set(key, value, options);
            return Task.CompletedTask;
        }
    }

    [Fact]
    public async Task MeteringPlacedOutsideTheCache_HitNotChargedMissChargedOnce()
    {
        _inner.GetResponseAsyncCallback = (_, _, _) => Task.FromResult(Answer());
        _inner.GetStreamingResponseAsyncCallback = (_, _, ct) => TestChatClient.Yield(Updates("1", "8"), cancellationToken: ct);
        ServiceCollection services = new();
        services.AddCostAware();
        services.AddSingleton<ICostLedger>(_ledger);
        _services = services.BuildServiceProvider();
        IChatClient misordered = new ChatClientBuilder(_inner).UseTokenMetering().UsePromptCache().Build(_services);

        ChatResponse miss = await misordered.GetResponseAsync("q");
        ChatResponse hit = await misordered.GetResponseAsync("q");
        (_, CostReceipt? streamedHit, _) = await Stream(misordered, "q");

        Assert.Equal(AnswerCost, miss.GetCostReceipt()!.Spent);
        Assert.Equal(0m, hit.GetCostReceipt()!.Spent);
        Assert.Equal(AnswerCost, hit.GetCostReceipt()!.Avoided);
        Assert.Equal(0m, streamedHit!.Spent);
        Assert.Equal(AnswerCost, streamedHit.Avoided);
        List<CostLedgerRecord> rows = await _ledger.QueryAsync(CostLedgerQuery.All).ToListAsync();
        Assert.Equal(AnswerCost, rows.Sum(r => r.Entry.Cost?.Total ?? 0m));
        Assert.Equal(2 * AnswerCost, rows.Sum(r => r.Entry.CostAvoided ?? 0m));
    }

    [Fact]
    public void GetService_ReturnsStage()
    {
        IChatClient client = Pipeline();

        Assert.NotNull(client.GetService<PromptCacheChatClient>());
        Assert.NotNull(client.GetService<TokenMeteringChatClient>());
    }

    [Theory]
    [InlineData("TimeToLive", "00:00:00", "TimeToLive: The field PromptCacheOptions.TimeToLive must be between 00:00:01 and 365.00:00:00.")]
    [InlineData("LocalTimeToLive", "02:00:00", "PromptCache:LocalTimeToLive (02:00:00) must not exceed PromptCache:TimeToLive (01:00:00).")]
    [InlineData("KeyPrefix", "my prefix", "KeyPrefix: The KeyPrefix field must be 1 to 64 printable ASCII characters without spaces.")]
    public void Build_InvalidOptions_ThrowsNamingFieldAndValue(string field, string value, string message)
    {
        ServiceCollection services = new();
        services.AddCostAware();
        using ServiceProvider provider = services.BuildServiceProvider();
        ChatClientBuilder builder = new ChatClientBuilder(_inner).UsePromptCache(configure: o =>
        {
            switch (field)
            {
                case "TimeToLive": o.TimeToLive = TimeSpan.Parse(value, System.Globalization.CultureInfo.InvariantCulture); break;
                case "LocalTimeToLive": o.LocalTimeToLive = TimeSpan.Parse(value, System.Globalization.CultureInfo.InvariantCulture); break;
                default: o.KeyPrefix = value; break;
            }
        });

        OptionsValidationException ex = Assert.Throws<OptionsValidationException>(() => builder.Build(provider));
        Assert.True(ex.Failures.Contains(message), string.Join(" | ", ex.Failures));
    }

    [Fact]
    public void Build_NoHybridCache_ThrowsSayingWhatToRegister()
    {
        using ServiceProvider provider = new ServiceCollection().BuildServiceProvider();

        InvalidOperationException ex = Assert.Throws<InvalidOperationException>(() => new ChatClientBuilder(_inner).UsePromptCache().Build(provider));
        Assert.StartsWith("UsePromptCache needs a HybridCache: call services.AddCostAware()", ex.Message);
    }

    [Fact]
    public void Constructor_NullArguments_Throw()
    {
        ServiceCollection services = new();
        services.AddCostAware();
        using ServiceProvider provider = services.BuildServiceProvider();

        _ = Assert.Throws<ArgumentNullException>("innerClient", () => new PromptCacheChatClient(null!, provider.GetRequiredService<HybridCache>()));
        _ = Assert.Throws<ArgumentNullException>("cache", () => new PromptCacheChatClient(_inner, null!));
    }

    // Delegates to a real HybridCache and records what the stage asked for.
    private sealed class RecordingHybridCache(HybridCache inner) : HybridCache
    {
        public List<HybridCacheEntryOptions?> Options { get; } = [];

        public List<string[]> Tags { get; } = [];

        public override ValueTask<T> GetOrCreateAsync<TState, T>(
            string key, TState state, Func<TState, CancellationToken, ValueTask<T>> factory, HybridCacheEntryOptions? options = null, IEnumerable<string>? tags = null, CancellationToken cancellationToken = default)
        {
            Options.Add(options);
            Tags.Add([.. tags ?? []]);
            return inner.GetOrCreateAsync(key, state, factory, options, tags, cancellationToken);
        }

        public override ValueTask RemoveAsync(string key, CancellationToken cancellationToken = default) => inner.RemoveAsync(key, cancellationToken);

        public override ValueTask RemoveByTagAsync(string tag, CancellationToken cancellationToken = default) => inner.RemoveByTagAsync(tag, cancellationToken);

        public override ValueTask SetAsync<T>(string key, T value, HybridCacheEntryOptions? options = null, IEnumerable<string>? tags = null, CancellationToken cancellationToken = default) =>
            inner.SetAsync(key, value, options, tags, cancellationToken);
    }
}

using CostAware.Tests.TestUtilities;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using Microsoft.Extensions.Time.Testing;

namespace CostAware.Tests.Metering;

public class TokenMeteringChatClientTests
{
    private static readonly DateTimeOffset Now = new(2026, 11, 23, 9, 30, 0, TimeSpan.Zero);

    private readonly FakeTimeProvider _time = new(Now);
    private readonly InMemoryCostLedger _ledger = new();
    private readonly FakeLogCollector _logs = new();

    private static ChatResponse Answer(string text, long input, long output, string? model = "gpt-4o-2024-08-06") =>
        new(new ChatMessage(ChatRole.Assistant, text)) { ModelId = model, Usage = new UsageDetails { InputTokenCount = input, OutputTokenCount = output } };

    private TokenMeteringChatClient Meter(IChatClient inner, IPriceCatalog? catalog = null, TokenMeteringOptions? options = null) =>
        new(inner, catalog, _ledger, tokenEstimator: null, options, _time, LoggerFactory.Create(b => b.AddProvider(new FakeLoggerProvider(_logs)).SetMinimumLevel(LogLevel.Trace)));

    [Fact]
    public async Task GetResponseAsync_ReportedUsage_AttachesExactReceiptAndRecordsOnce()
    {
        TestChatClient inner = new() { GetResponseAsyncCallback = (_, _, _) => Task.FromResult(Answer("18", 1_000, 200)) };
        using IChatClient client = Meter(inner);

        ChatResponse response = await client.GetResponseAsync("q", new ChatOptions().WithCostScope(new CostScope { Tenant = "acme", Feature = "math" }));

        CostReceipt receipt = response.GetCostReceipt()!;
        Assert.Equal(new CostScope { Tenant = "acme", Feature = "math" }, receipt.Scope);
        Assert.Equal(Now, receipt.CreatedAt);
        CostReceiptEntry entry = Assert.Single(receipt.Entries);
        Assert.Equal(CostEntryKind.ProviderCall, entry.Kind);
        Assert.Equal("test-provider", entry.Provider);
        Assert.Equal("metering", entry.Stage);
        Assert.Equal(Now, entry.Timestamp);

        // gpt-4o: 1,000 x $2.50 + 200 x $10 per million.
        Assert.Equal(0.0045m, receipt.Spent);
        CostLedgerRecord row = Assert.Single(await _ledger.QueryAsync(CostLedgerQuery.All).ToListAsync());
        Assert.Equal(receipt.Id, row.ReceiptId);
        Assert.Same(entry, row.Entry);
    }

    [Fact]
    public async Task GetResponseAsync_NoUsage_EstimatesAndMarksEstimated()
    {
        TestChatClient inner = new()
        {
            GetResponseAsyncCallback = (_, _, _) => Task.FromResult(new ChatResponse(new ChatMessage(ChatRole.Assistant, "hello world")) { ModelId = "gpt-4o" }),
        };
        using IChatClient client = Meter(inner);

        ChatResponse response = await client.GetResponseAsync([new ChatMessage(ChatRole.User, "hello world")]);

        CostReceiptEntry entry = Assert.Single(response.GetCostReceipt()!.Entries);
        Assert.True(entry.IsEstimated);

        // 3 (message) + 2 ("hello world") + 3 (reply priming) in; 2 out.
        Assert.Equal(new TokenCounts { Input = 8, Output = 2 }, entry.Tokens);
        Assert.Contains(_logs.GetSnapshot(), r => r.Id.Id == 2);
    }

    [Fact]
    public async Task GetResponseAsync_OwnKeysRemovedFromForwardedOptions_CallerOptionsUntouched()
    {
        TestChatClient inner = new() { GetResponseAsyncCallback = (_, _, _) => Task.FromResult(Answer("a", 1, 1)) };
        using IChatClient client = Meter(inner);
        ChatOptions options = new ChatOptions { AdditionalProperties = new() { ["user_key"] = 1 } }.WithCostScope(new CostScope { Tenant = "t" });

        _ = await client.GetResponseAsync("q", options);

        Assert.NotSame(options, inner.LastOptions);
        Assert.Equal(["user_key"], inner.LastOptions!.AdditionalProperties!.Keys);
        Assert.Equal(2, options.AdditionalProperties!.Count);
    }

    [Fact]
    public async Task GetResponseAsync_NoOwnKeys_ForwardsOptionsAsIs()
    {
        TestChatClient inner = new() { GetResponseAsyncCallback = (_, _, _) => Task.FromResult(Answer("a", 1, 1)) };
        using IChatClient client = Meter(inner);
        ChatOptions options = new() { Temperature = 0 };

        _ = await client.GetResponseAsync("q", options);

        Assert.Same(options, inner.LastOptions);
    }

    [Fact]
    public async Task GetResponseAsync_OuterCallContext_AddsToItsReceiptAndLeavesRecordingToOwner()
    {
        TestChatClient inner = new() { GetResponseAsyncCallback = (_, o, _) => Task.FromResult(Answer("a", 1_000_000, 0, o!.ModelId)) };
        using IChatClient client = Meter(inner);
        CostCallContext context = CostCallContext.FindOrOpen(new ChatOptions().WithCostScope(new CostScope { Tenant = "acme" }), new FakeTimeProvider(Now), out _);
        CostReceipt outer = context.Receipt;

        // A cascade's two calls land on one receipt and add up.
        ChatOptions cheap = context.Forward(new ChatOptions { ModelId = "gpt-4o-mini" });
        ChatOptions strong = context.Forward(new ChatOptions { ModelId = "gpt-4o" });
        ChatResponse first = await client.GetResponseAsync("q", cheap);
        ChatResponse second = await client.GetResponseAsync("q", strong);

        Assert.Same(outer, first.GetCostReceipt());
        Assert.Same(outer, second.GetCostReceipt());
        Assert.Equal(2.65m, outer.Spent);
        Assert.Empty(await _ledger.QueryAsync(CostLedgerQuery.All).ToListAsync());
    }

    [Fact]
    public async Task GetResponseAsync_SpoofedBatchKey_BilledAtSynchronousPrices()
    {
        // A synchronous call is billed at synchronous prices, whatever a caller writes under CostAware's keys.
        TestChatClient inner = new() { GetResponseAsyncCallback = (_, _, _) => Task.FromResult(Answer("a", 1_000_000, 1_000_000)) };
        using IChatClient client = Meter(inner);

        ChatResponse response = await client.GetResponseAsync("q", new ChatOptions { AdditionalProperties = new() { ["costaware.batch"] = true } });

        CostReceiptEntry entry = Assert.Single(response.GetCostReceipt()!.Entries);
        Assert.False(entry.IsBatch);
        Assert.Equal(12.5m, entry.Cost!.Value.Total);
        Assert.False(inner.LastOptions!.AdditionalProperties?.ContainsKey("costaware.batch") ?? false);
    }

    [Fact]
    public async Task GetResponseAsync_SpoofedReceiptOnOptions_IgnoredAndOwnReceiptRecorded()
    {
        TestChatClient inner = new() { GetResponseAsyncCallback = (_, _, _) => Task.FromResult(Answer("a", 1_000, 1_000)) };
        using IChatClient client = Meter(inner);
        CostReceipt planted = new(Guid.NewGuid(), new CostScope { Tenant = "victim" }, Now);

        ChatResponse response = await client.GetResponseAsync(
            "q", new ChatOptions { AdditionalProperties = new() { [CostAwareProperties.Receipt] = planted } }.WithCostScope(new CostScope { Tenant = "caller" }));

        Assert.Empty(planted.Entries);
        CostReceipt receipt = response.GetCostReceipt()!;
        Assert.NotSame(planted, receipt);
        Assert.Equal("caller", receipt.Scope.Tenant);
        Assert.Equal("caller", Assert.Single(await _ledger.QueryAsync(CostLedgerQuery.All).ToListAsync()).Scope.Tenant);
    }

    [Fact]
    public async Task GetResponseAsync_ScopeKeyHoldsAString_ThrowsInsteadOfRunningUnscoped()
    {
        TestChatClient inner = new() { GetResponseAsyncCallback = (_, _, _) => Task.FromResult(Answer("a", 1, 1)) };
        using IChatClient client = Meter(inner);

        ArgumentException error = await Assert.ThrowsAsync<ArgumentException>(
            () => client.GetResponseAsync("q", new ChatOptions { AdditionalProperties = new() { [CostAwareProperties.Scope] = "acme" } }));

        Assert.Contains("costaware.scope", error.Message, StringComparison.Ordinal);
        Assert.Contains("WithCostScope", error.Message, StringComparison.Ordinal);
        Assert.Equal(0, inner.Calls);
    }

    [Fact]
    public async Task GetResponseAsync_UnknownModelRecordAsUnpriced_CostUnknownAndWarnsOncePerModel()
    {
        TestChatClient inner = new() { GetResponseAsyncCallback = (_, _, _) => Task.FromResult(Answer("a", 10, 10, "my-finetune")) };
        using IChatClient client = Meter(inner);

        ChatResponse first = await client.GetResponseAsync("q");
        _ = await client.GetResponseAsync("q");

        CostReceiptEntry entry = Assert.Single(first.GetCostReceipt()!.Entries);
        Assert.Null(entry.Cost);
        Assert.Null(entry.Price);
        Assert.Equal(new TokenCounts { Input = 10, Output = 10 }, entry.Tokens);
        Assert.False(first.GetCostReceipt()!.IsFullyPriced);
        FakeLogRecord warning = Assert.Single(_logs.GetSnapshot(), r => r.Level == LogLevel.Warning);
        Assert.Contains("'my-finetune'", warning.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task GetResponseAsync_UnknownModelThrow_RefusedBeforeTheProviderIsPaid()
    {
        TestChatClient inner = new() { GetResponseAsyncCallback = (_, _, _) => Task.FromResult(Answer("a", 10, 10)) };
        using IChatClient client = Meter(inner, PriceCatalog.BuiltIn.WithUnknownModelPolicy(UnknownModelPolicy.Throw));

        UnknownModelPriceException ex = await Assert.ThrowsAsync<UnknownModelPriceException>(
            () => client.GetResponseAsync("q", new ChatOptions { ModelId = "my-finetune" }));

        Assert.Equal("my-finetune", ex.ModelId);
        Assert.Equal(
            "Model 'my-finetune' is not in the price catalog and UnknownModelPolicy is Throw. Add it under CostAware:Prices, load a price file, or choose another UnknownModelPolicy.",
            ex.Message);
        Assert.Equal(0, inner.Calls);
    }

    [Fact]
    public async Task GetResponseAsync_UnknownModelDefaultPrice_PricedAtDefault()
    {
        ModelPrice fallback = new("default", "unknown", new TokenPrices(1m, 2m));
        TestChatClient inner = new() { GetResponseAsyncCallback = (_, _, _) => Task.FromResult(Answer("a", 1_000_000, 1_000_000, "my-finetune")) };
        using IChatClient client = Meter(inner, PriceCatalog.BuiltIn.WithUnknownModelPolicy(UnknownModelPolicy.UseDefaultPrice, fallback));

        ChatResponse response = await client.GetResponseAsync("q");

        CostReceiptEntry entry = Assert.Single(response.GetCostReceipt()!.Entries);
        Assert.Same(fallback, entry.Price);
        Assert.Equal(3m, entry.Cost!.Value.Total);
    }

    [Fact]
    public async Task GetResponseAsync_InnerThrows_NothingMetered()
    {
        TestChatClient inner = new() { GetResponseAsyncCallback = (_, _, _) => throw new HttpRequestException("503") };
        using IChatClient client = Meter(inner);

        await Assert.ThrowsAsync<HttpRequestException>(() => client.GetResponseAsync("q"));

        Assert.Empty(await _ledger.QueryAsync(CostLedgerQuery.All).ToListAsync());
    }

    [Fact]
    public async Task GetResponseAsync_LedgerFails_ResponseStillReturnedAndErrorLogged()
    {
        TestChatClient inner = new() { GetResponseAsyncCallback = (_, _, _) => Task.FromResult(Answer("a", 1, 1)) };
        using IChatClient client = new TokenMeteringChatClient(inner, ledger: new FailingLedger(),
            loggerFactory: LoggerFactory.Create(b => b.AddProvider(new FakeLoggerProvider(_logs))));

        ChatResponse response = await client.GetResponseAsync("q");

        Assert.Equal("a", response.Text);
        Assert.Contains(_logs.GetSnapshot(), r => r.Level == LogLevel.Error && r.Id.Id == 4);
    }

    [Fact]
    public async Task GetResponseAsync_OnMetered_InvokedWithEntryAndFailureSwallowed()
    {
        List<OnMeteredArguments> seen = [];
        TestChatClient inner = new() { GetResponseAsyncCallback = (_, _, _) => Task.FromResult(Answer("a", 1, 1)) };
        using IChatClient client = Meter(inner, options: new TokenMeteringOptions
        {
            OnMetered = args =>
            {
                seen.Add(args);
                throw new InvalidOperationException("callback bug");
            },
        });

        ChatResponse response = await client.GetResponseAsync("q");

        OnMeteredArguments args = Assert.Single(seen);
        Assert.Same(response.GetCostReceipt(), args.Receipt);
        Assert.False(args.IsStreaming);
        Assert.Contains(_logs.GetSnapshot(), r => r.Id.Id == 5);
    }

    [Fact]
    public async Task GetResponseAsync_MetricsWithScopeTurnedOn_TokensByClassAndCostWithScope()
    {
        using MetricCollector<long> tokens = new(null, CostAwareTelemetry.Name, "costaware.tokens");
        using MetricCollector<double> cost = new(null, CostAwareTelemetry.Name, "costaware.cost");
        TestChatClient inner = new()
        {
            GetResponseAsyncCallback = (_, _, _) => Task.FromResult(new ChatResponse(new ChatMessage(ChatRole.Assistant, "a"))
            {
                ModelId = "o3",
                Usage = new UsageDetails { InputTokenCount = 1_000, CachedInputTokenCount = 400, OutputTokenCount = 500, ReasoningTokenCount = 300 },
            }),
        };
        using IChatClient client = Meter(inner, options: new TokenMeteringOptions { IncludeScopeInMetrics = true });
        string tenant = Guid.NewGuid().ToString();

        _ = await client.GetResponseAsync("q", new ChatOptions().WithCostScope(new CostScope { Tenant = tenant }));

        Dictionary<string, long> byType = tokens.GetMeasurementSnapshot()
            .Where(m => m.Tags.TryGetValue("costaware.scope.tenant", out object? t) && (string?)t == tenant)
            .ToDictionary(m => (string)m.Tags["gen_ai.token.type"]!, m => m.Value);
        Assert.Equal(new Dictionary<string, long> { ["input"] = 1_000, ["cached_input"] = 400, ["output"] = 500, ["reasoning"] = 300 }, byType);
        CollectedMeasurement<double> spent = Assert.Single(cost.GetMeasurementSnapshot(), m => m.Tags.TryGetValue("costaware.scope.tenant", out object? t) && (string?)t == tenant);
        // o3: 600 x $2 + 400 x $0.50 + 500 x $8 per million.
        Assert.Equal(0.0054, spent.Value, 10);
        Assert.Equal("o3", spent.Tags["gen_ai.response.model"]);
    }

    [Fact]
    public async Task GetResponseAsync_MetricsByDefault_NoScopeIdsOnTags()
    {
        using MetricCollector<double> cost = new(null, CostAwareTelemetry.Name, "costaware.cost");
        TestChatClient inner = new() { GetResponseAsyncCallback = (_, _, _) => Task.FromResult(Answer("a", 1_000, 10, "o3")) };
        using IChatClient client = Meter(inner);
        string tenant = Guid.NewGuid().ToString();

        _ = await client.GetResponseAsync("q", new ChatOptions().WithCostScope(new CostScope { Tenant = tenant, User = "u", ApiKey = "k" }));

        // Tenant, user and API key ids never become metric tags unless the app asks.
        Assert.DoesNotContain(cost.GetMeasurementSnapshot(), m => m.Tags.Values.Any(v => v is string s && (s == tenant || s == "u" || s == "k")));
    }

    [Fact]
    public async Task GetStreamingResponseAsync_UsageContent_FinalUpdateCarriesReceipt()
    {
        TestChatClient inner = new()
        {
            GetStreamingResponseAsyncCallback = (_, _, ct) => TestChatClient.Yield(
            [
                new ChatResponseUpdate(ChatRole.Assistant, "Eigh") { ModelId = "gpt-4o-mini" },
                new ChatResponseUpdate(null, "teen"),
                new ChatResponseUpdate { Contents = [new UsageContent(new UsageDetails { InputTokenCount = 2_000_000, OutputTokenCount = 1_000_000 })] },
            ], cancellationToken: ct),
        };
        using IChatClient client = Meter(inner);

        List<ChatResponseUpdate> updates = await client.GetStreamingResponseAsync("q").ToListAsync();

        Assert.Equal(4, updates.Count);
        CostReceipt receipt = updates[^1].GetCostReceipt()!;
        Assert.Equal(0.9m, receipt.Spent);
        ChatResponse whole = updates.ToChatResponse();
        Assert.Equal("Eighteen", whole.Text);
        Assert.Same(receipt, whole.GetCostReceipt());
        Assert.Single(await _ledger.QueryAsync(CostLedgerQuery.All).ToListAsync());
    }

    [Fact]
    public async Task GetStreamingResponseAsync_ConsumerStopsEarly_MeteredOnceFromTextProduced()
    {
        TestChatClient inner = new()
        {
            GetStreamingResponseAsyncCallback = (_, _, ct) => TestChatClient.Yield(
            [
                new ChatResponseUpdate(ChatRole.Assistant, "hello world") { ModelId = "gpt-4o" },
                new ChatResponseUpdate(null, " never read"),
            ], cancellationToken: ct),
        };
        using IChatClient client = Meter(inner);

        await foreach (ChatResponseUpdate update in client.GetStreamingResponseAsync([new ChatMessage(ChatRole.User, "hello world")]))
        {
            break;
        }

        CostLedgerRecord row = Assert.Single(await _ledger.QueryAsync(CostLedgerQuery.All).ToListAsync());
        Assert.True(row.Entry.IsEstimated);
        Assert.Equal(new TokenCounts { Input = 8, Output = 2 }, row.Entry.Tokens);
    }

    [Fact]
    public async Task GetStreamingResponseAsync_FailsAfterOutput_MeteredAndRethrown()
    {
        TestChatClient inner = new()
        {
            GetStreamingResponseAsyncCallback = (_, _, ct) => TestChatClient.Yield(
                [new ChatResponseUpdate(ChatRole.Assistant, "hello world") { ModelId = "gpt-4o" }], new IOException("connection reset"), ct),
        };
        using IChatClient client = Meter(inner);

        await Assert.ThrowsAsync<IOException>(async () => await client.GetStreamingResponseAsync("q").ToListAsync());

        CostLedgerRecord row = Assert.Single(await _ledger.QueryAsync(CostLedgerQuery.All).ToListAsync());
        Assert.Equal(2, row.Entry.Tokens.Output);
    }

    [Fact]
    public async Task GetStreamingResponseAsync_FailsBeforeFirstUpdate_NothingMetered()
    {
        TestChatClient inner = new()
        {
            GetStreamingResponseAsyncCallback = (_, _, ct) => TestChatClient.Yield([], new HttpRequestException("400"), ct),
        };
        using IChatClient client = Meter(inner);

        await Assert.ThrowsAsync<HttpRequestException>(async () => await client.GetStreamingResponseAsync("q").ToListAsync());

        Assert.Empty(await _ledger.QueryAsync(CostLedgerQuery.All).ToListAsync());
    }

    [Fact]
    public async Task GetStreamingResponseAsync_NullMessages_ThrowsBeforeIterating()
    {
        using IChatClient client = Meter(new TestChatClient());

        Assert.Throws<ArgumentNullException>(() => client.GetStreamingResponseAsync(null!));
        await Assert.ThrowsAsync<ArgumentNullException>(() => client.GetResponseAsync((IEnumerable<ChatMessage>)null!));
    }

    [Fact]
    public void GetService_ReturnsItself()
    {
        using TokenMeteringChatClient client = Meter(new TestChatClient());

        Assert.Same(client, client.GetService<TokenMeteringChatClient>());
        Assert.Equal("test-provider", client.GetService<ChatClientMetadata>()!.ProviderName);
    }

    private sealed class FailingLedger : ICostLedger
    {
        public ValueTask RecordAsync(CostReceipt receipt, CancellationToken cancellationToken = default) => throw new IOException("disk full");

        public IAsyncEnumerable<CostLedgerRecord> QueryAsync(CostLedgerQuery query, CancellationToken cancellationToken = default) => AsyncEnumerable.Empty<CostLedgerRecord>();
    }
}

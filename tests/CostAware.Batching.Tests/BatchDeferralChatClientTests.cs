using System.ClientModel;
using System.Diagnostics.Metrics;
using System.Text.Json.Nodes;
using CostAware.Batching.Internal;
using CostAware.Batching.OpenAI.Internal;
using CostAware.Batching.Anthropic.Internal;
using CostAware.Shared;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using OpenAI;

namespace CostAware.Batching.Tests;

// The stage and its scheduler end to end: the official OpenAI SDK against the loopback stand-in, a real SQLite file,
// the scheduler driven pass by pass on a fake clock.
public sealed class BatchDeferralChatClientTests : IAsyncLifetime
{
    private const string Model = "gpt-4o-mini";
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 11, 24, 2, 0, 0, TimeSpan.Zero));
    private readonly string _path = Path.Combine(Path.GetTempPath(), $"costaware-deferral-{Guid.NewGuid():N}.db");
    private readonly InMemoryCostLedger _ledger = new();
    private readonly List<DeferralCoordinator> _coordinators = [];
    private OpenAIBatchStandIn _server = null!;
    private int _syncCalls;

    public async Task InitializeAsync() => _server = await OpenAIBatchStandIn.StartAsync();

    public async Task DisposeAsync()
    {
        foreach (DeferralCoordinator coordinator in _coordinators)
        {
            await coordinator.DisposeAsync();
        }

        await _server.DisposeAsync();
        SqliteFiles.Delete(_path);
    }

    private CostAwareMetrics? _metrics;

    private DeferralCoordinator Coordinator(Action<BatchDeferralOptions>? configure = null)
    {
        BatchDeferralOptions options = new() { QueuePath = _path, MaxWait = TimeSpan.FromMinutes(5), PollInterval = TimeSpan.FromSeconds(30) };
        configure?.Invoke(options);
        OpenAIClient client = new(new ApiKeyCredential("sk-test"), new OpenAIClientOptions { Endpoint = _server.Endpoint });
        DeferralCoordinator coordinator = new(options, [new OpenAIBatchProvider(client)], PriceCatalog.BuiltIn, _ledger, _time, NullLogger.Instance, queue: null, _metrics);
        _coordinators.Add(coordinator);
        return coordinator;
    }

    private IChatClient Stage(DeferralCoordinator coordinator)
    {
        IChatClient sync = new DelegatingSync(this);
        return new BatchDeferralChatClient(sync, coordinator, _time, NullLogger.Instance);
    }

    private static ChatOptions Deferred(DeferralDelivery delivery = DeferralDelivery.Await, DateTimeOffset? deadline = null) =>
        new ChatOptions { ModelId = Model, MaxOutputTokens = 100 }
            .WithDeferral(new Deferral { Delivery = delivery, Deadline = deadline })
            .WithCostScope(new CostScope { Tenant = "acme", Feature = "nightly" });

    // Runs scheduler passes, advancing the clock, until the condition holds.
    private async Task PumpUntilAsync(DeferralCoordinator coordinator, Func<bool> done, TimeSpan step)
    {
        for (int i = 0; i < 200 && !done(); i++)
        {
            await coordinator.RunOnceAsync(CancellationToken.None);
            if (done())
            {
                return;
            }

            _time.Advance(step);
            await Task.Delay(TimeSpan.FromMilliseconds(5), TimeProvider.System);
        }
    }

    [Fact]
    public async Task GetResponseAsync_TwoAwaitedCalls_OneBatchAndEachAnswerDeliveredAtBatchPrices()
    {
        DeferralCoordinator coordinator = Coordinator();
        using IChatClient client = Stage(coordinator);

        Task<ChatResponse> first = client.GetResponseAsync("What is 2+2?", Deferred());
        Task<ChatResponse> second = client.GetResponseAsync("What is 3+3?", Deferred());
        await PumpUntilAsync(coordinator, () => !_server.Batches.IsEmpty, TimeSpan.FromMinutes(1));
        string batchId = Assert.Single(_server.Batches.Keys);
        Assert.Equal(2, _server.InputLines(batchId).Count);

        _server.CompleteAll(batchId, q => q.Contains("2+2", StringComparison.Ordinal) ? "4" : "6", inputTokens: 1_000, outputTokens: 500);
        await PumpUntilAsync(coordinator, () => first.IsCompleted && second.IsCompleted, TimeSpan.FromMinutes(1));

        ChatResponse a = await first;
        Assert.Equal("4", a.Text);
        Assert.Equal("6", (await second).Text);
        CostReceiptEntry entry = Assert.Single(a.GetCostReceipt()!.Entries);
        Assert.True(entry.IsBatch);

        // gpt-4o-mini at batch prices: 1,000 x $0.075 + 500 x $0.30 per million = $0.000225 (half of $0.00045).
        Assert.Equal(0.000225m, a.GetCostReceipt()!.Spent);
        Assert.Equal(0.000225m, a.GetCostReceipt()!.Avoided);
        Assert.Equal(new CostScope { Tenant = "acme", Feature = "nightly" }, a.GetCostReceipt()!.Scope);
        Assert.Equal(2, (await _ledger.QueryAsync(CostLedgerQuery.All).ToListAsync()).Count);
        Assert.Equal(0, _syncCalls);
        Assert.Empty(_server.Problems);
    }

    [Fact]
    public async Task GetResponseAsync_ResultWithoutUsage_BilledAtEstimatedTokensAndMarkedEstimated()
    {
        DeferralCoordinator coordinator = Coordinator();
        using IChatClient client = Stage(coordinator);

        Task<ChatResponse> call = client.GetResponseAsync("Summarise the quarterly report in one paragraph.", Deferred());
        await PumpUntilAsync(coordinator, () => !_server.Batches.IsEmpty, TimeSpan.FromMinutes(1));
        _server.CompleteAll(Assert.Single(_server.Batches.Keys), _ => "Revenue grew four percent; costs were flat.", withUsage: false);
        await PumpUntilAsync(coordinator, () => call.IsCompleted, TimeSpan.FromMinutes(1));

        // The provider billed the call; a $0 exact entry would hide that. The input is counted from the request sent,
        // the output from the answer, at batch prices.
        CostReceiptEntry entry = Assert.Single((await call).GetCostReceipt()!.Entries);
        Assert.True(entry.IsEstimated);
        Assert.True(entry.IsBatch);
        Assert.True(entry.Tokens.Input > 10, $"input {entry.Tokens.Input}");
        Assert.Equal(TiktokenTokenEstimator.Default.CountTokens("Revenue grew four percent; costs were flat.", Model), entry.Tokens.Output);
        Assert.True(entry.Cost!.Value.Total > 0m);
        CostLedgerRecord row = Assert.Single(await _ledger.QueryAsync(CostLedgerQuery.All).ToListAsync());
        Assert.True(row.Entry.IsEstimated);
    }

    [Fact]
    public async Task Submit_CreateAnsweredWithAnErrorAfterCreatingTheBatch_AdoptedNotSubmittedTwice()
    {
        // The stand-in creates the batch and answers 500: neither the SDK nor CostAware may create a second one.
        _server.CreateThenFail = 1;
        DeferralCoordinator coordinator = Coordinator();
        using IChatClient client = Stage(coordinator);

        Task<ChatResponse> call = client.GetResponseAsync("What is 2+2?", Deferred());
        await PumpUntilAsync(coordinator, () => !_server.Batches.IsEmpty, TimeSpan.FromMinutes(1));
        for (int i = 0; i < 3; i++)
        {
            await coordinator.RunOnceAsync(CancellationToken.None);
            _time.Advance(TimeSpan.FromMinutes(1));
        }

        Assert.Equal(1, _server.BatchCreates);
        _server.CompleteAll(Assert.Single(_server.Batches.Keys), _ => "4");
        await PumpUntilAsync(coordinator, () => call.IsCompleted, TimeSpan.FromMinutes(1));
        Assert.Equal("4", (await call).Text);
        Assert.Equal(1, _server.BatchCreates);
    }

    [Fact]
    public async Task Poll_EveryPollFails_BacksOffInsteadOfPollingEveryPass()
    {
        DeferralCoordinator coordinator = Coordinator(o => o.PollInterval = TimeSpan.FromSeconds(30));
        using IChatClient client = Stage(coordinator);
        _ = client.GetResponseAsync("What is 2+2?", Deferred(DeferralDelivery.Ticket));
        await PumpUntilAsync(coordinator, () => !_server.Batches.IsEmpty, TimeSpan.FromMinutes(1));
        _server.FailPolls = true;
        int before = Volatile.Read(ref _server.Polls);

        // Twenty minutes of passes, one a second: without backoff that would be 1,200 polls (times the retries).
        for (int i = 0; i < 1_200; i++)
        {
            await coordinator.RunOnceAsync(CancellationToken.None);
            _time.Advance(TimeSpan.FromSeconds(1));
        }

        int polls = Volatile.Read(ref _server.Polls) - before;
        Assert.InRange(polls, 1, 12);
    }

    [Fact]
    public async Task Collect_OneLineWithABodyThatIsNotAnObject_FailsThatCallOnly()
    {
        List<DeferredResultArguments> handled = [];
        DeferralCoordinator coordinator = Coordinator(o => o.OnResult = a => { lock (handled) { handled.Add(a); } return ValueTask.CompletedTask; });
        using IChatClient client = Stage(coordinator);
        Task<ChatResponse>[] awaited = [.. Enumerable.Range(0, 3).Select(i => client.GetResponseAsync($"awaited {i}", Deferred()))];
        ChatResponse[] tickets = await Task.WhenAll(Enumerable.Range(0, 3).Select(i => client.GetResponseAsync($"ticket {i}", Deferred(DeferralDelivery.Ticket))));
        await PumpUntilAsync(coordinator, () => !_server.Batches.IsEmpty, TimeSpan.FromMinutes(1));
        string batchId = Assert.Single(_server.Batches.Keys);

        // Every line answered, but the first line's body is a string.
        List<string> lines = [];
        foreach (System.Text.Json.Nodes.JsonObject line in _server.InputLines(batchId))
        {
            string id = line["custom_id"]!.GetValue<string>();
            string body = lines.Count == 0
                ? "\"not an object\""
                : $$$"""{"id":"c-{{{id}}}","object":"chat.completion","created":1764000000,"model":"gpt-4o-mini","choices":[{"index":0,"message":{"role":"assistant","content":"ok"},"finish_reason":"stop"}],"usage":{"prompt_tokens":10,"completion_tokens":2,"total_tokens":12}}""";
            lines.Add($$"""{"id":"r-{{id}}","custom_id":"{{id}}","response":{"status_code":200,"body":{{body}}},"error":null}""");
        }

        _server.SetStatus(batchId, "completed", lines);
        await PumpUntilAsync(coordinator, () => awaited.All(t => t.IsCompleted) && handled.Count == 3, TimeSpan.FromMinutes(1));

        int answered = 0, failed = 0;
        foreach (Task<ChatResponse> task in awaited)
        {
            try
            {
                Assert.Equal("ok", (await task).Text);
                answered++;
            }
            catch (DeferredCallFailedException)
            {
                failed++;
            }
        }

        answered += handled.Count(h => h.Response is not null);
        failed += handled.Count(h => h.Response is null);
        Assert.Equal(5, answered);
        Assert.Equal(1, failed);
        foreach (ChatResponse ticket in tickets)
        {
            string id = (string)ticket.AdditionalProperties![CostAwareProperties.BatchTicket]!;
            if (handled.Any(h => h.Ticket == id && h.Response is null))
            {
                DeferredCallFailedException error = await Assert.ThrowsAsync<DeferredCallFailedException>(() => client.GetService<BatchDeferralChatClient>()!.GetResultAsync(id));
                Assert.Contains("malformed", error.Message, StringComparison.Ordinal);
            }
        }
    }

    [Fact]
    public async Task Metrics_CountCallsByEventAndBatchesByStatus()
    {
        using ServiceProvider services = new ServiceCollection().AddMetrics().BuildServiceProvider();
        IMeterFactory factory = services.GetRequiredService<IMeterFactory>();
        _metrics = new CostAwareMetrics(factory);
        using MetricCollector<long> calls = new(factory, CostAwareTelemetry.Name, "costaware.batch.calls");
        using MetricCollector<long> batches = new(factory, CostAwareTelemetry.Name, "costaware.batch.batches");
        DeferralCoordinator coordinator = Coordinator(o => o.MaxWaitAlone = TimeSpan.Zero);
        using IChatClient client = Stage(coordinator);

        Task<ChatResponse> call = client.GetResponseAsync("What is 2+2?", Deferred());
        await PumpUntilAsync(coordinator, () => !_server.Batches.IsEmpty, TimeSpan.FromSeconds(10));
        _server.CompleteAll(_server.Batches.Keys.Single(), _ => "4");
        await PumpUntilAsync(coordinator, () => call.IsCompleted, TimeSpan.FromMinutes(1));
        _ = await call;

        Assert.Equal(["deferred", "submitted", "answered"], calls.GetMeasurementSnapshot().Select(m => (string)m.Tags["costaware.batch.event"]!));
        Assert.Equal("completed", Assert.Single(batches.GetMeasurementSnapshot()).Tags["costaware.batch.status"]);
        _metrics.Dispose();
    }

    [Fact]
    public async Task GetResponseAsync_NotMarked_PassesStraightThrough()
    {
        using IChatClient client = Stage(Coordinator());

        ChatResponse response = await client.GetResponseAsync("hi", new ChatOptions { ModelId = Model });

        Assert.Equal("sync", response.Text);
        Assert.Equal(1, _syncCalls);
        Assert.False(File.Exists(_path));
    }

    [Fact]
    public async Task GetResponseAsync_DeadlineSoonerThanTheBatchWindow_SentSynchronously()
    {
        using IChatClient client = Stage(Coordinator());

        ChatResponse response = await client.GetResponseAsync("hi", Deferred(deadline: _time.GetUtcNow().AddHours(2)));

        Assert.Equal("sync", response.Text);
        Assert.Equal(1, _syncCalls);
    }

    [Fact]
    public async Task GetResponseAsync_ModelWithoutARegisteredProvider_SentSynchronously()
    {
        using IChatClient client = Stage(Coordinator());

        ChatResponse response = await client.GetResponseAsync("hi", new ChatOptions { ModelId = "claude-sonnet-4-5" }.WithDeferral(Deferral.Unbounded));

        Assert.Equal("sync", response.Text);
    }

    [Fact]
    public async Task RunOnceAsync_LoneCall_WaitsForCompanyUntilMaxWaitAlone()
    {
        DeferralCoordinator coordinator = Coordinator(o => o.MaxWaitAlone = TimeSpan.FromMinutes(30));
        using IChatClient client = Stage(coordinator);
        ChatResponse ticket = await client.GetResponseAsync("alone", Deferred(DeferralDelivery.Ticket));

        _time.Advance(TimeSpan.FromMinutes(29));
        await coordinator.RunOnceAsync(CancellationToken.None);
        Assert.Empty(_server.Batches);

        _time.Advance(TimeSpan.FromMinutes(1));
        await coordinator.RunOnceAsync(CancellationToken.None);
        Assert.Single(_server.Batches);
        Assert.NotNull(ticket.AdditionalProperties![CostAwareProperties.BatchTicket]);
    }

    [Fact]
    public async Task RunOnceAsync_DeadlineComing_SubmitsEvenALoneCall()
    {
        DeferralCoordinator coordinator = Coordinator(o => o.ExpectedBatchLatency = TimeSpan.FromHours(2));
        using IChatClient client = Stage(coordinator);
        _ = await client.GetResponseAsync("q", Deferred(DeferralDelivery.Ticket, deadline: _time.GetUtcNow().AddHours(3)));

        await coordinator.RunOnceAsync(CancellationToken.None);
        Assert.Empty(_server.Batches);
        _time.Advance(TimeSpan.FromHours(1));
        await coordinator.RunOnceAsync(CancellationToken.None);

        Assert.Single(_server.Batches);
    }

    [Fact]
    public async Task Ticket_AnswerFetchedLaterByTicket_AndBilledOnce()
    {
        DeferralCoordinator coordinator = Coordinator(o => o.MaxWaitAlone = TimeSpan.Zero);
        using IChatClient client = Stage(coordinator);
        ChatResponse accepted = await client.GetResponseAsync("What is 2+2?", Deferred(DeferralDelivery.Ticket));
        string ticket = (string)accepted.AdditionalProperties![CostAwareProperties.BatchTicket]!;
        BatchDeferralChatClient stage = client.GetService<BatchDeferralChatClient>()!;

        await coordinator.RunOnceAsync(CancellationToken.None);
        Assert.Null(await stage.GetResultAsync(ticket));
        _server.CompleteAll(Assert.Single(_server.Batches.Keys), _ => "4");
        _time.Advance(TimeSpan.FromMinutes(1));
        await coordinator.RunOnceAsync(CancellationToken.None);

        ChatResponse answer = (await stage.GetResultAsync(ticket))!;
        ChatResponse again = (await stage.GetResultAsync(ticket))!;
        Assert.Equal("4", answer.Text);
        Assert.Equal("4", again.Text);
        Assert.Equal(answer.GetCostReceipt()!.Id, again.GetCostReceipt()!.Id);
        Assert.Single(await _ledger.QueryAsync(CostLedgerQuery.All).ToListAsync());
        _ = await Assert.ThrowsAsync<KeyNotFoundException>(() => stage.GetResultAsync("no-such-ticket"));
    }

    [Fact]
    public async Task Restart_SubmittedBatchIsPolledByTheNextProcess_AndEachAnswerHandledExactlyOnce()
    {
        // The first process accepts three calls, submits them, and stops.
        DeferralCoordinator before = Coordinator(o => o.MaxWait = TimeSpan.Zero);
        using (IChatClient client = Stage(before))
        {
            for (int i = 0; i < 3; i++)
            {
                _ = await client.GetResponseAsync($"question {i}", Deferred(DeferralDelivery.Ticket));
            }

            await before.RunOnceAsync(CancellationToken.None);
        }

        await before.DisposeAsync();
        _coordinators.Remove(before);
        string batchId = Assert.Single(_server.Batches.Keys);
        _server.CompleteAll(batchId, q => "answer to " + q);

        // The next process, on the same file, with a handler.
        List<DeferredResultArguments> handled = [];
        DeferralCoordinator after = Coordinator(o => o.OnResult = a =>
        {
            handled.Add(a);
            return ValueTask.CompletedTask;
        });
        _time.Advance(TimeSpan.FromMinutes(1));
        await after.RunOnceAsync(CancellationToken.None);
        await after.RunOnceAsync(CancellationToken.None);

        Assert.Equal(3, handled.Count);
        Assert.Equal(3, handled.Select(h => h.Ticket).Distinct().Count());
        Assert.All(handled, h => Assert.StartsWith("answer to question", h.Response!.Text, StringComparison.Ordinal));
        Assert.All(handled, h => Assert.Equal("acme", h.Scope.Tenant));
        Assert.Equal(1, _server.BatchCreates);
        Assert.Equal(3, (await _ledger.QueryAsync(CostLedgerQuery.All).ToListAsync()).Count);
    }

    [Fact]
    public async Task Recovery_BatchCreatedButNotRecorded_IsAdoptedNotSubmittedAgain()
    {
        DeferralCoordinator first = Coordinator(o => o.MaxWaitAlone = TimeSpan.Zero);
        using IChatClient client = Stage(first);
        ChatResponse accepted = await client.GetResponseAsync("q", Deferred(DeferralDelivery.Ticket));
        string ticket = (string)accepted.AdditionalProperties![CostAwareProperties.BatchTicket]!;

        // A crash between the provider creating the batch and the queue recording it: reproduced step by step.
        await using (SqliteDeferralQueue queue = await SqliteDeferralQueue.OpenAsync(_path, CancellationToken.None))
        {
            DeferredCall call = (await queue.GetAsync(ticket, CancellationToken.None))!;
            _ = await queue.BeginBatchAsync("local-batch", "openai", OpenAIBatchProtocol.ChatCompletionsEndpoint, [ticket], _time.GetUtcNow(), CancellationToken.None);
            OpenAIBatchProtocol protocol = new(new OpenAIClient(new ApiKeyCredential("sk-test"), new OpenAIClientOptions { Endpoint = _server.Endpoint }));
            _ = await protocol.SubmitAsync("local-batch", OpenAIBatchProtocol.ChatCompletionsEndpoint, [call], CancellationToken.None);
        }

        await first.RunOnceAsync(CancellationToken.None);
        _server.CompleteAll(Assert.Single(_server.Batches.Keys), _ => "recovered");
        _time.Advance(TimeSpan.FromMinutes(1));
        await first.RunOnceAsync(CancellationToken.None);

        Assert.Equal(1, _server.BatchCreates);
        Assert.Equal("recovered", (await client.GetService<BatchDeferralChatClient>()!.GetResultAsync(ticket))!.Text);
    }

    [Fact]
    public async Task Recovery_BatchRecordedAsSubmittedWhileItsCallsStillSaySubmitting_IsDelivered()
    {
        DeferralCoordinator first = Coordinator(o => o.MaxWaitAlone = TimeSpan.Zero);
        using IChatClient client = Stage(first);
        ChatResponse accepted = await client.GetResponseAsync("q", Deferred(DeferralDelivery.Ticket));
        string ticket = (string)accepted.AdditionalProperties![CostAwareProperties.BatchTicket]!;

        // The torn state a kill between a batch's two writes left before they were one transaction: the batch has its
        // provider id, its call still says "submitting". Reproduced step by step.
        string providerId;
        await using (SqliteDeferralQueue queue = await SqliteDeferralQueue.OpenAsync(_path, CancellationToken.None))
        {
            DeferredCall call = (await queue.GetAsync(ticket, CancellationToken.None))!;
            _ = await queue.BeginBatchAsync("local-batch", "openai", OpenAIBatchProtocol.ChatCompletionsEndpoint, [ticket], _time.GetUtcNow(), CancellationToken.None);
            OpenAIBatchProtocol protocol = new(new OpenAIClient(new ApiKeyCredential("sk-test"), new OpenAIClientOptions { Endpoint = _server.Endpoint }));
            providerId = await protocol.SubmitAsync("local-batch", OpenAIBatchProtocol.ChatCompletionsEndpoint, [call], CancellationToken.None);
        }

        await using (Microsoft.Data.Sqlite.SqliteConnection connection = new($"Data Source={_path}"))
        {
            await connection.OpenAsync();
            await using Microsoft.Data.Sqlite.SqliteCommand torn = connection.CreateCommand();
            torn.CommandText = "UPDATE batches SET provider_batch_id = $p WHERE id = 'local-batch'";
            _ = torn.Parameters.AddWithValue("$p", providerId);
            Assert.Equal(1, await torn.ExecuteNonQueryAsync());
        }

        _server.CompleteAll(providerId, _ => "delivered after all");
        await first.RunOnceAsync(CancellationToken.None);

        Assert.Equal(1, _server.BatchCreates);
        Assert.Equal("delivered after all", (await client.GetService<BatchDeferralChatClient>()!.GetResultAsync(ticket))!.Text);
    }

    [Fact]
    public async Task ExpiredBatch_CallsGoToAnotherBatch_ThenFailAfterMaxAttempts()
    {
        DeferralCoordinator coordinator = Coordinator(o =>
        {
            o.MaxWaitAlone = TimeSpan.Zero;
            o.MaxAttempts = 2;
        });
        using IChatClient client = Stage(coordinator);
        Task<ChatResponse> call = client.GetResponseAsync("q", Deferred());
        await PumpUntilAsync(coordinator, () => _server.Batches.Count == 1, TimeSpan.FromSeconds(10));

        _server.SetStatus(_server.Batches.Keys.Single(), "expired");
        await PumpUntilAsync(coordinator, () => _server.Batches.Count == 2, TimeSpan.FromMinutes(1));
        string second = _server.Batches.Keys.Single(k => _server.Batches[k]["status"]!.GetValue<string>() == "validating");
        _server.SetStatus(second, "expired", errors: [new JsonObject { ["custom_id"] = _server.InputLines(second)[0]["custom_id"]!.DeepClone(), ["response"] = null, ["error"] = new JsonObject { ["code"] = "batch_expired", ["message"] = "This request could not be executed before the completion window expired." } }.ToJsonString()]);
        await PumpUntilAsync(coordinator, () => call.IsCompleted, TimeSpan.FromMinutes(1));

        DeferredCallFailedException failed = await Assert.ThrowsAsync<DeferredCallFailedException>(() => call);
        Assert.Contains("no answer after 2 batches (last batch expired: batch_expired", failed.Message, StringComparison.Ordinal);
        Assert.Equal(2, _server.BatchCreates);
    }

    [Fact]
    public async Task CompletedWithoutAnOutputFile_CallsGoToAnotherBatch()
    {
        DeferralCoordinator coordinator = Coordinator(o => o.MaxWaitAlone = TimeSpan.Zero);
        using IChatClient client = Stage(coordinator);
        Task<ChatResponse> call = client.GetResponseAsync("What is 2+2?", Deferred());
        await PumpUntilAsync(coordinator, () => _server.Batches.Count == 1, TimeSpan.FromSeconds(10));

        _server.SetStatus(_server.Batches.Keys.Single(), "completed");
        await PumpUntilAsync(coordinator, () => _server.Batches.Count == 2, TimeSpan.FromMinutes(1));
        _server.CompleteAll(_server.Batches.Keys.Single(k => _server.Batches[k]["status"]!.GetValue<string>() == "validating"), _ => "4");
        await PumpUntilAsync(coordinator, () => call.IsCompleted, TimeSpan.FromMinutes(1));

        Assert.Equal("4", (await call).Text);
    }

    [Fact]
    public async Task TransientProviderErrors_RetriedWithoutLosingTheCall()
    {
        DeferralCoordinator coordinator = Coordinator(o => o.MaxWaitAlone = TimeSpan.Zero);
        using IChatClient client = Stage(coordinator);
        _server.FailNext = 2;

        Task<ChatResponse> call = client.GetResponseAsync("What is 2+2?", Deferred());
        await PumpUntilAsync(coordinator, () => _server.Batches.Count == 1, TimeSpan.FromSeconds(10));
        _server.FailNext = 2;
        _server.CompleteAll(_server.Batches.Keys.Single(), _ => "4");
        await PumpUntilAsync(coordinator, () => call.IsCompleted, TimeSpan.FromMinutes(1));

        Assert.Equal("4", (await call).Text);
        Assert.Equal(1, _server.BatchCreates);
        Assert.Equal(0, _server.FailNext);
    }

    [Fact]
    public async Task PerCallError_FailsThatCallOnly()
    {
        DeferralCoordinator coordinator = Coordinator();
        using IChatClient client = Stage(coordinator);
        Task<ChatResponse> good = client.GetResponseAsync("good", Deferred());
        Task<ChatResponse> bad = client.GetResponseAsync("bad", Deferred());
        await PumpUntilAsync(coordinator, () => !_server.Batches.IsEmpty, TimeSpan.FromMinutes(1));
        string batchId = _server.Batches.Keys.Single();
        IReadOnlyList<JsonObject> lines = _server.InputLines(batchId);
        string Id(string question) => lines.Single(l => l["body"]!["messages"]![0]!["content"]!.GetValue<string>() == question)["custom_id"]!.GetValue<string>();
        JsonObject completion = JsonNode.Parse("""{"id":"c","object":"chat.completion","created":1,"model":"gpt-4o-mini","choices":[{"index":0,"message":{"role":"assistant","content":"fine"},"finish_reason":"stop"}],"usage":{"prompt_tokens":3,"completion_tokens":1,"total_tokens":4}}""")!.AsObject();
        _server.SetStatus(
            batchId,
            "completed",
            output: [new JsonObject { ["custom_id"] = Id("good"), ["response"] = new JsonObject { ["status_code"] = 200, ["body"] = completion } }.ToJsonString()],
            errors: [new JsonObject { ["custom_id"] = Id("bad"), ["response"] = new JsonObject { ["status_code"] = 400, ["body"] = new JsonObject { ["error"] = new JsonObject { ["message"] = "max_tokens is too large" } } } }.ToJsonString()]);
        await PumpUntilAsync(coordinator, () => good.IsCompleted && bad.IsCompleted, TimeSpan.FromMinutes(1));

        Assert.Equal("fine", (await good).Text);
        DeferredCallFailedException failed = await Assert.ThrowsAsync<DeferredCallFailedException>(() => bad);
        Assert.Contains("HTTP 400", failed.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task GetStreamingResponseAsync_Deferred_YieldsTheWholeAnswerWhenItArrives()
    {
        DeferralCoordinator coordinator = Coordinator(o => o.MaxWaitAlone = TimeSpan.Zero);
        using IChatClient client = Stage(coordinator);

        Task<List<ChatResponseUpdate>> streamed = client.GetStreamingResponseAsync("What is 2+2?", Deferred()).ToListAsync().AsTask();
        await PumpUntilAsync(coordinator, () => !_server.Batches.IsEmpty, TimeSpan.FromSeconds(10));
        _server.CompleteAll(_server.Batches.Keys.Single(), _ => "4");
        await PumpUntilAsync(coordinator, () => streamed.IsCompleted, TimeSpan.FromMinutes(1));

        Assert.Equal("4", (await streamed).ToChatResponse().Text);
    }

    // Stands for the rest of the pipeline (the synchronous path): counts what reaches it.
    private sealed class DelegatingSync(BatchDeferralChatClientTests owner) : IChatClient
    {
        public Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
        {
            _ = Interlocked.Increment(ref owner._syncCalls);
            return Task.FromResult(new ChatResponse(new ChatMessage(ChatRole.Assistant, "sync")));
        }

        public IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default) =>
            throw new NotSupportedException();

        public object? GetService(Type serviceType, object? serviceKey = null) =>
            serviceType == typeof(ChatClientMetadata) ? new ChatClientMetadata("test", null, Model) : null;

        public void Dispose()
        {
        }
    }
}

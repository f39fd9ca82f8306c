using System.Collections.Concurrent;
using System.Text;
using System.Text.Json;
using CostAware.Shared;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Logging;
using Polly;
using Polly.Retry;

namespace CostAware.Batching.Internal;

// Everything between a deferred call and its answer: the durable queue, the providers, the callers waiting, and one
// pass of the scheduler (RunOnceAsync) that recovers what a crash left, submits batches, polls them and delivers their
// answers. The hosted scheduler calls RunOnceAsync in a loop; tests call it directly with a fake clock.
internal sealed class DeferralCoordinator : IAsyncDisposable, IDisposable
{
    private const string StageName = "batch";

    private readonly BatchDeferralOptions _options;
    private readonly Dictionary<string, IBatchProvider> _providers;
    private readonly CallPricer _pricer;
    private readonly ICostLedger? _ledger;
    private readonly TimeProvider _timeProvider;
    private readonly ILogger _logger;
    private readonly ConcurrentDictionary<string, Waiter> _waiters = new(StringComparer.Ordinal);
    private readonly ResiliencePipeline _resilience;
    private readonly SemaphoreSlim _pass = new(1, 1);
    private readonly SemaphoreSlim _opening = new(1, 1);
    private readonly bool _ownsQueue;
    private readonly CostAwareMetrics _metrics;
    private readonly ITokenEstimator _estimator;
    private IDeferralQueue? _queue;

    public DeferralCoordinator(
        BatchDeferralOptions options, IEnumerable<IBatchProvider> providers, IPriceCatalog catalog, ICostLedger? ledger, TimeProvider timeProvider, ILogger logger, IDeferralQueue? queue = null, CostAwareMetrics? metrics = null, ITokenEstimator? estimator = null)
    {
        _metrics = metrics ?? CostAwareMetrics.Shared;
        _estimator = estimator ?? TiktokenTokenEstimator.Default;
        _queue = queue;
        _ownsQueue = queue is null;
        _options = options;
        _providers = providers.ToDictionary(static p => p.Name, StringComparer.OrdinalIgnoreCase);
        _pricer = new CallPricer(catalog, logger);
        _ledger = ledger;
        _timeProvider = timeProvider;
        _logger = logger;

        // Provider calls are retried on transient failures with jittered exponential backoff; what still fails is left
        // for the next pass (nothing is lost: every step is recorded before the next).
        _resilience = new ResiliencePipelineBuilder { TimeProvider = timeProvider }
            .AddRetry(new RetryStrategyOptions
            {
                MaxRetryAttempts = 3,
                Delay = TimeSpan.FromMilliseconds(200),
                BackoffType = DelayBackoffType.Exponential,
                UseJitter = true,
                ShouldHandle = args => ValueTask.FromResult(args.Outcome.Exception is { } e && (e is HttpRequestException or TimeoutException || IsTransient(e))),
            })
            .Build();
    }

    public BatchDeferralOptions Options => _options;

    private bool IsTransient(Exception exception)
    {
        foreach (IBatchProvider provider in _providers.Values)
        {
            if (provider.IsTransient(exception))
            {
                return true;
            }
        }

        return false;
    }

    // The provider a model's calls are batched with: the catalog's provider of the model, if one is registered.
    public IBatchProvider? ProviderFor(string? modelId) =>
        modelId is not null && _pricer.Catalog.TryGetPrice(modelId, out ModelPrice? price) && _providers.TryGetValue(price.Provider, out IBatchProvider? provider)
            ? provider
            : null;

    // A deferral the options' policy asks for, when the call was not marked.
    public Deferral? PolicyDeferral(CostScope scope)
    {
        foreach (Dictionary<CostScopeDimension, string> match in _options.DeferScopes)
        {
            bool all = true;
            foreach (KeyValuePair<CostScopeDimension, string> condition in match)
            {
                all &= string.Equals(scope.Get(condition.Key), condition.Value, StringComparison.Ordinal);
            }

            if (all && match.Count > 0)
            {
                return new Deferral { RequestedBy = "policy" };
            }
        }

        return null;
    }

    // Writes the call to the queue (durably) and returns its ticket. An awaiting caller is registered first, so that
    // an answer arriving at once still finds it.
    public async Task<string> EnqueueAsync(
        IBatchProvider provider, string modelId, IEnumerable<ChatMessage> messages, ChatOptions? options, CostScope scope, Deferral deferral, CostReceipt? receipt, CancellationToken cancellationToken)
    {
        byte[] body = await provider.BuildRequestAsync(modelId, messages, options, cancellationToken).ConfigureAwait(false);
        string id = Guid.NewGuid().ToString("N");
        if (deferral.Delivery == DeferralDelivery.Await)
        {
            _waiters[id] = new Waiter(new TaskCompletionSource<ChatResponse>(TaskCreationOptions.RunContinuationsAsynchronously), receipt);
        }

        try
        {
            IDeferralQueue queue = await QueueAsync(cancellationToken).ConfigureAwait(false);
            await queue.EnqueueAsync(
                new DeferredCall
                {
                    Id = id,
                    Provider = provider.Name,
                    Endpoint = provider.Endpoint,
                    ModelId = modelId,
                    Body = body,
                    Scope = JsonSerializer.Serialize(scope, BatchingJson.Default.CostScope),
                    CreatedAt = _timeProvider.GetUtcNow(),
                    Deadline = deferral.Deadline,
                    Delivery = deferral.Delivery,
                    Owner = _options.NodeName,
                },
                cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            _ = _waiters.TryRemove(id, out _);
            throw;
        }

        Log.Enqueued(_logger, provider.Name, modelId);
        _metrics.RecordBatchCalls(provider.Name, "deferred");
        return id;
    }

    // Waits for an awaited call's answer. A caller that gives up leaves the call queued: its answer goes to the
    // handler, or waits to be fetched by ticket.
    public async Task<ChatResponse> WaitAsync(string ticket, CancellationToken cancellationToken)
    {
        if (!_waiters.TryGetValue(ticket, out Waiter? waiter))
        {
            throw new InvalidOperationException($"No caller is registered for deferred call {ticket}.");
        }

        try
        {
#pragma warning disable VSTHRD003 // The task is this coordinator's own completion source, completed with continuations run asynchronously.
            return await waiter.Answer.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
#pragma warning restore VSTHRD003
        }
        catch (OperationCanceledException)
        {
            _ = _waiters.TryRemove(ticket, out _);
            throw;
        }
    }

    // The answer to a call by ticket: null while it is pending; a failed call throws.
    public async Task<ChatResponse?> GetResultAsync(string ticket, CancellationToken cancellationToken)
    {
        IDeferralQueue queue = await QueueAsync(cancellationToken).ConfigureAwait(false);
        DeferredCall? call = await queue.GetAsync(ticket, cancellationToken).ConfigureAwait(false);
        if (call is null)
        {
            throw new KeyNotFoundException($"No deferred call has the ticket '{ticket}'.");
        }

        if (call.State is not (DeferredCallState.Completed or DeferredCallState.Failed or DeferredCallState.Delivered))
        {
            return null;
        }

        (ChatResponse? response, CostReceipt receipt, string? error) = await OutcomeAsync(call, outerReceipt: null, cancellationToken).ConfigureAwait(false);
        if (await queue.MarkDeliveredAsync(call.Id, cancellationToken).ConfigureAwait(false))
        {
            await BillAsync(receipt).ConfigureAwait(false);
        }

        return response ?? throw new DeferredCallFailedException(call.Id, error!);
    }

    // One scheduler pass. Never throws for a provider's failure: what could not be done now is retried next pass.
    public async Task RunOnceAsync(CancellationToken cancellationToken)
    {
        await _pass.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            IDeferralQueue queue = await QueueAsync(cancellationToken).ConfigureAwait(false);
            await PollAsync(queue, cancellationToken).ConfigureAwait(false);
            await FlushAsync(queue, cancellationToken).ConfigureAwait(false);
            await DeliverPendingAsync(queue, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _ = _pass.Release();
        }
    }

    public ValueTask DisposeAsync()
    {
        Dispose();
        return ValueTask.CompletedTask;
    }

    public void Dispose()
    {
        if (_ownsQueue)
        {
            _queue?.Dispose();
        }

        _pass.Dispose();
        _opening.Dispose();
    }

    // What the deferral health check reads: the queue as it is now, or null when this process has not opened it.
    internal async Task<(IReadOnlyList<QueuedGroup> Queued, IReadOnlyList<OpenBatch> Open)?> BacklogAsync(CancellationToken cancellationToken)
    {
        if (Volatile.Read(ref _queue) is not { } queue)
        {
            return null;
        }

        IReadOnlyList<QueuedGroup> queued = await queue.QueuedGroupsAsync(cancellationToken).ConfigureAwait(false);
        IReadOnlyList<OpenBatch> open = await queue.OpenBatchesAsync(cancellationToken).ConfigureAwait(false);
        return (queued, open);
    }

    // The queue file is opened on first use, not at start-up, so that an app that never defers never creates it. A
    // queue given by DI (Redis) is used as it is.
    private async ValueTask<IDeferralQueue> QueueAsync(CancellationToken cancellationToken)
    {
        if (Volatile.Read(ref _queue) is { } open)
        {
            return open;
        }

        await _opening.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (_queue is null)
            {
                SqliteDeferralQueue opened = await SqliteDeferralQueue.OpenAsync(ResolveQueuePath(_options.QueuePath), cancellationToken, _logger).ConfigureAwait(false);
                Log.QueueOpened(_logger, opened.FilePath);
                _queue = opened;
            }

            return _queue;
        }
        finally
        {
            _ = _opening.Release();
        }
    }

    // A relative QueuePath is taken from the app's own folder, not from the working directory, so that the app finds its
    // queue (and the calls a crash left in it) however it is started.
    internal static string ResolveQueuePath(string path) => Path.IsPathRooted(path) ? path : Path.GetFullPath(Path.Combine(AppContext.BaseDirectory, path));

    // Submits a batch for every provider endpoint whose queue is due: full, old enough, or holding a call whose
    // deadline leaves no more time to wait. A lone call waits for company up to MaxWaitAlone.
    private async Task FlushAsync(IDeferralQueue queue, CancellationToken cancellationToken)
    {
        DateTimeOffset now = _timeProvider.GetUtcNow();
        foreach (QueuedGroup group in await queue.QueuedGroupsAsync(cancellationToken).ConfigureAwait(false))
        {
            if (!_providers.TryGetValue(group.Provider, out IBatchProvider? provider))
            {
                continue;
            }

            int max = Math.Min(_options.MaxBatchRequests, provider.MaxRequests);
            TimeSpan age = now - group.Oldest;
            bool deadlineDue = group.EarliestDeadline is { } deadline && deadline - _options.ExpectedBatchLatency <= now;
            bool due = group.Count >= max || deadlineDue || (group.Count >= 2 ? age >= _options.MaxWait : age >= _options.MaxWaitAlone);
            if (!due)
            {
                continue;
            }

            IReadOnlyList<DeferredCall> calls = await queue.PeekQueuedAsync(provider.Name, provider.Endpoint, max, provider.MaxBytes, cancellationToken).ConfigureAwait(false);
            string batchId = Guid.NewGuid().ToString("N");
            IReadOnlyList<string> taken = await queue.BeginBatchAsync(batchId, provider.Name, provider.Endpoint, [.. calls.Select(static c => c.Id)], now, cancellationToken).ConfigureAwait(false);
            if (taken.Count == 0)
            {
                await queue.MarkBatchDoneAsync(batchId, cancellationToken).ConfigureAwait(false);
                continue;
            }

            HashSet<string> takenIds = [.. taken];
            await SubmitAsync(queue, provider, batchId, [.. calls.Where(c => takenIds.Contains(c.Id))], cancellationToken).ConfigureAwait(false);
        }
    }

    private async Task SubmitAsync(IDeferralQueue queue, IBatchProvider provider, string batchId, IReadOnlyList<DeferredCall> calls, CancellationToken cancellationToken)
    {
        string providerBatchId;
        try
        {
            // One attempt, never retried here or by the SDK: a create that failed may still have created the batch.
            providerBatchId = await provider.SubmitAsync(batchId, calls, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            // Whether the provider created the batch is unknown: the batch stays open without a provider id, and the
            // next pass looks for it (by CostAware's batch id) before giving its calls back to the queue.
            Log.SubmitFailed(_logger, provider.Name, calls.Count, ex);
            return;
        }

        await queue.MarkSubmittedAsync(batchId, providerBatchId, cancellationToken).ConfigureAwait(false);
        Log.Submitted(_logger, provider.Name, providerBatchId, calls.Count);
        _metrics.RecordBatchCalls(provider.Name, "submitted", calls.Count);
    }

    private async Task PollAsync(IDeferralQueue queue, CancellationToken cancellationToken)
    {
        DateTimeOffset now = _timeProvider.GetUtcNow();
        foreach (OpenBatch batch in await queue.OpenBatchesAsync(cancellationToken).ConfigureAwait(false))
        {
            if (!_providers.TryGetValue(batch.Provider, out IBatchProvider? provider))
            {
                continue;
            }

            try
            {
                if (batch.ProviderBatchId is null)
                {
                    await RecoverAsync(queue, provider, batch, cancellationToken).ConfigureAwait(false);
                    continue;
                }

                if (batch.NextPollAt > now)
                {
                    continue;
                }

                ProviderBatchStatus status;
                try
                {
                    // One request per poll; a poll that fails waits like one that found the batch unfinished, so an
                    // API that answers errors is asked less and less often, not once a pass.
                    status = await provider.GetStatusAsync(batch.ProviderBatchId, cancellationToken).ConfigureAwait(false);
                }
                catch (Exception ex) when (ex is not OperationCanceledException)
                {
                    Log.PollFailed(_logger, batch.Provider, batch.ProviderBatchId, ex);
                    await queue.SchedulePollAsync(batch.Id, now + PollDelay(batch.PollCount), cancellationToken).ConfigureAwait(false);
                    continue;
                }

                if (!status.IsTerminal)
                {
                    await queue.SchedulePollAsync(batch.Id, now + PollDelay(batch.PollCount), cancellationToken).ConfigureAwait(false);
                    continue;
                }

                await CollectAsync(queue, provider, batch, status, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                Log.PollFailed(_logger, batch.Provider, batch.ProviderBatchId, ex);
            }
        }
    }

    private TimeSpan PollDelay(int polls)
    {
        double factor = Math.Pow(2, Math.Min(polls, 16));
        return TimeSpan.FromTicks((long)Math.Min(_options.PollInterval.Ticks * factor, _options.MaxPollInterval.Ticks));
    }

    // A batch recorded as taken but never as submitted: the process died while creating it, or creation failed. If
    // the provider has it, it is adopted; if not, its calls go back to the queue. No call is submitted twice.
    private async Task RecoverAsync(IDeferralQueue queue, IBatchProvider provider, OpenBatch batch, CancellationToken cancellationToken)
    {
        IReadOnlyList<DeferredCall> calls = await queue.CallsInStateAsync(DeferredCallState.Submitting, batch.Id, cancellationToken).ConfigureAwait(false);
        string? found = await _resilience.ExecuteAsync(
            static async (state, ct) => await state.provider.FindAsync(state.Id, state.calls, ct).ConfigureAwait(false),
            (provider, batch.Id, calls),
            cancellationToken).ConfigureAwait(false);
        if (found is not null)
        {
            await queue.MarkSubmittedAsync(batch.Id, found, cancellationToken).ConfigureAwait(false);
            Log.Recovered(_logger, provider.Name, found);
            return;
        }

        await queue.AbandonBatchAsync(batch.Id, cancellationToken).ConfigureAwait(false);
        Log.Requeued(_logger, provider.Name, calls.Count);
    }

    // Stores every answered call's outcome (once), gives unanswered calls another batch or fails them, and delivers.
    private async Task CollectAsync(IDeferralQueue queue, IBatchProvider provider, OpenBatch batch, ProviderBatchStatus status, CancellationToken cancellationToken)
    {
        IReadOnlyList<ProviderLineResult> lines = status.Status == "failed" ? [] : await _resilience.ExecuteAsync(
            static async (state, ct) => await state.provider.ReadResultsAsync(state.id, state.status, ct).ConfigureAwait(false),
            (provider, id: batch.ProviderBatchId!, status),
            cancellationToken).ConfigureAwait(false);
        Dictionary<string, ProviderLineResult> byId = new(StringComparer.Ordinal);
        foreach (ProviderLineResult line in lines)
        {
            if (line.Malformed || line.CustomId is null)
            {
                Log.MalformedLine(_logger, provider.Name, batch.ProviderBatchId, line.Error);
                continue;
            }

            _ = byId.TryAdd(line.CustomId, line);
        }

        // A queue written by an older version may hold a batch recorded as submitted whose calls still say
        // "submitting" (its two writes were not one transaction): marking it again is idempotent and adopts them.
        await queue.MarkSubmittedAsync(batch.Id, batch.ProviderBatchId!, cancellationToken).ConfigureAwait(false);
        IReadOnlyList<DeferredCall> calls = await queue.CallsInStateAsync(DeferredCallState.Submitted, batch.Id, cancellationToken).ConfigureAwait(false);
        foreach (DeferredCall call in calls)
        {
            if (byId.TryGetValue(call.Id, out ProviderLineResult line) && (line.Body is not null || !IsRetryable(line.Error)))
            {
                if (await queue.CompleteAsync(call.Id, line.Body, line.Body is null ? line.Error ?? "error" : null, cancellationToken).ConfigureAwait(false))
                {
                    _metrics.RecordBatchCalls(provider.Name, line.Body is null ? "failed" : "answered");
                }
            }
            else if (call.Attempts < _options.MaxAttempts)
            {
                // Expired, cancelled, missing from a completed batch, or a batch that failed as a whole: another batch.
                if (await queue.RequeueAsync(call.Id, cancellationToken).ConfigureAwait(false))
                {
                    _metrics.RecordBatchCalls(provider.Name, "requeued");
                }
            }
            else
            {
                string why = status.Status == "failed"
                    ? $"the batch failed validation: {status.Errors ?? "no details"}"
                    : $"no answer after {call.Attempts} batches (last batch {status.Status}{(line.Error is null ? string.Empty : ": " + line.Error)})";
                if (await queue.CompleteAsync(call.Id, result: null, why, cancellationToken).ConfigureAwait(false))
                {
                    _metrics.RecordBatchCalls(provider.Name, "failed");
                }
            }
        }

        await queue.MarkBatchDoneAsync(batch.Id, cancellationToken).ConfigureAwait(false);
        _metrics.RecordBatchEnded(provider.Name, status.Status);
        Log.Collected(_logger, provider.Name, batch.ProviderBatchId, status.Status, byId.Count, calls.Count);
    }

    private static bool IsRetryable(string? error) =>
        error is not null && (error.StartsWith("batch_expired", StringComparison.Ordinal) || error.StartsWith("batch_cancelled", StringComparison.Ordinal)
            || error.StartsWith("expired", StringComparison.Ordinal) || error.StartsWith("canceled", StringComparison.Ordinal));

    // Hands every stored outcome to its awaiting caller, or to the handler; without either it waits for GetResultAsync.
    // An awaited call accepted on another node is left to that node, whose caller may still be waiting.
    private async Task DeliverPendingAsync(IDeferralQueue queue, CancellationToken cancellationToken)
    {
        foreach (DeferredCall call in await AnsweredAsync(queue, cancellationToken).ConfigureAwait(false))
        {
            try
            {
                await DeliverAsync(queue, call, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                // One call that cannot be delivered now (its store write failed) does not hold back the others.
                Log.DeliveryFailed(_logger, call.Id, ex);
            }
        }
    }

    private async Task DeliverAsync(IDeferralQueue queue, DeferredCall call, CancellationToken cancellationToken)
    {
        if (_waiters.TryGetValue(call.Id, out Waiter? waiter))
        {
            (ChatResponse? response, CostReceipt receipt, string? error) = await OutcomeAsync(call, waiter.Receipt, cancellationToken).ConfigureAwait(false);
            if (await queue.MarkDeliveredAsync(call.Id, cancellationToken).ConfigureAwait(false))
            {
                if (waiter.Receipt is null)
                {
                    await BillAsync(receipt).ConfigureAwait(false);
                }

                _ = _waiters.TryRemove(call.Id, out _);
                _ = response is not null
                    ? waiter.Answer.TrySetResult(response)
                    : waiter.Answer.TrySetException(new DeferredCallFailedException(call.Id, error!));
            }
        }
        else if (_options.OnResult is { } handler
            && (call.Delivery == DeferralDelivery.Ticket || string.Equals(call.Owner, _options.NodeName, StringComparison.Ordinal)))
        {
            (ChatResponse? response, CostReceipt receipt, string? error) = await OutcomeAsync(call, outerReceipt: null, cancellationToken).ConfigureAwait(false);
            try
            {
                await handler(new DeferredResultArguments(call.Id, response, error, receipt.Scope, cancellationToken)).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                // Not marked delivered: the handler sees it again on the next pass.
                Log.HandlerFailed(_logger, call.Id, ex);
                return;
            }

            if (await queue.MarkDeliveredAsync(call.Id, cancellationToken).ConfigureAwait(false))
            {
                await BillAsync(receipt).ConfigureAwait(false);
            }
        }
    }

    // The answered calls this node may deliver. Without a handler only its own waiting callers can take an answer, so
    // only their calls are read; answers waiting to be fetched by ticket are not read again on every pass.
    private async Task<IReadOnlyList<DeferredCall>> AnsweredAsync(IDeferralQueue queue, CancellationToken cancellationToken)
    {
        List<DeferredCall> answered = [];
        if (_options.OnResult is not null)
        {
            answered.AddRange(await queue.CallsInStateAsync(DeferredCallState.Completed, batchId: null, cancellationToken).ConfigureAwait(false));
            answered.AddRange(await queue.CallsInStateAsync(DeferredCallState.Failed, batchId: null, cancellationToken).ConfigureAwait(false));
            return answered;
        }

        foreach (string ticket in _waiters.Keys)
        {
            if (await queue.GetAsync(ticket, cancellationToken).ConfigureAwait(false) is { State: DeferredCallState.Completed or DeferredCallState.Failed } call)
            {
                answered.Add(call);
            }
        }

        return answered;
    }

    // The answer as the caller receives it, with its receipt: one provider-call entry at batch prices. The receipt id
    // is derived from the ticket, so that the same call always has the same receipt.
    // A result the provider's SDK cannot read (a body that is no answer) fails this call alone, with a
    // DeferredCallFailedException that says why; every other call of the batch is delivered as usual.
    private async Task<(ChatResponse? Response, CostReceipt Receipt, string? Error)> OutcomeAsync(DeferredCall call, CostReceipt? outerReceipt, CancellationToken cancellationToken)
    {
        CostScope scope = call.Scope is null ? CostScope.None : JsonSerializer.Deserialize(call.Scope, BatchingJson.Default.CostScope) ?? CostScope.None;
        CostReceipt receipt = outerReceipt ?? new CostReceipt(Guid.ParseExact(call.Id, "N"), scope, call.CreatedAt);
        if (call.Result is null || !_providers.TryGetValue(call.Provider, out IBatchProvider? provider))
        {
            return (null, receipt, call.Error ?? (call.Result is null ? "failed" : $"no batch provider '{call.Provider}' is registered"));
        }

        ChatResponse response;
        try
        {
            response = await provider.ReadResponseAsync(call.ModelId ?? string.Empty, call.Result, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            Log.UnreadableResult(_logger, call.Id, ex);
            return (null, receipt, $"the provider's result could not be read: {ex.Message}");
        }

        string? modelId = response.ModelId ?? call.ModelId;
        bool estimated = !UsageReader.TryRead(response.Usage, out TokenCounts tokens, out _);
        if (estimated)
        {
            // A result without usage was still billed: the input is counted from the request as it was sent (its JSON,
            // so a little over), the output from the answer, and the entry says it is an estimate.
            tokens = new TokenCounts
            {
                Input = _estimator.CountTokens(Encoding.UTF8.GetString(call.Body), modelId),
                Output = _estimator.CountTokens(response.Text, modelId),
            };
            Log.ResultWithoutUsage(_logger, call.Id, modelId);
        }

        CostReceiptEntry entry = _pricer.Price(
            CostEntryKind.ProviderCall, modelId, call.Provider, tokens, estimated, batch: true, _timeProvider.GetUtcNow(), StageName, mayThrow: false);

        // The discount, against what the same tokens cost synchronously, is what the batch avoided.
        if (entry is { Price: { } price, Cost: { } cost })
        {
            entry = entry with { CostAvoided = price.CalculateCost(tokens, batch: false).Total - cost.Total };
        }

        receipt.Add(entry);
        (response.AdditionalProperties ??= [])[CostAwareProperties.Receipt] = receipt;
        return (response, receipt, null);
    }

    private async Task BillAsync(CostReceipt receipt)
    {
        if (_options.RecordToLedger && _ledger is not null && receipt.Entries.Length > 0)
        {
            await LedgerRecording.RecordAsync(_ledger, receipt, _logger).ConfigureAwait(false);
        }
    }

    private sealed record class Waiter(TaskCompletionSource<ChatResponse> Answer, CostReceipt? Receipt);
}

using System.Runtime.CompilerServices;
using System.Text;
using CostAware.Internal;
using CostAware.Shared;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace CostAware;

/// <summary>
/// A chat client stage that keeps calls within budgets: before a call it reserves the call's worst-case cost in every
/// budget that applies to the call's <see cref="CostScope"/>, atomically; after it, it settles the reservation to what
/// the receipt says the call cost. A call that a budget has no room for is refused before any provider is paid, or
/// degraded as the budget's <see cref="BudgetAction"/> says.
/// </summary>
/// <remarks>
/// <para>
/// Put it outermost, so that it sees what every inner stage spends (cache hits settle at zero; a cascade's extra tiers
/// and retries are on the same receipt), with <c>UseTokenMetering()</c> innermost. Without a metering stage it prices
/// the response's reported usage itself.
/// </para>
/// <para>
/// The worst case is the input counted by the <see cref="ITokenEstimator"/> (plus
/// <see cref="BudgetOptions.InputEstimateMargin"/>), every input token at the dearest input class (cache writes
/// included), and the output at the call's <c>MaxOutputTokens</c>, capped by <see cref="BudgetOptions.MaxOutputTokensCeiling"/>
/// and the model's own output limit. Every further provider call the inner stages make (cascade tiers, judges, a call
/// deferred to a batch that goes synchronously after all) is admitted the same way before it is made, through the
/// <see cref="CostCallContext"/> (with <c>UseTokenMetering()</c> innermost). A settlement the store cannot take is
/// retried until it does; a reservation that is never settled (its process died) lapses after
/// <see cref="BudgetOptions.ReservationTimeout"/>. A call whose model has no price is refused (see
/// <see cref="BudgetOptions.UnpricedCalls"/>). The guarantee, store by store and failure by failure, is in docs/budgets.md.
/// </para>
/// <para>This type is thread-safe: any number of calls may run through it at once.</para>
/// </remarks>
public sealed class BudgetChatClient : DelegatingChatClient
{
    private const string StageName = "budget";
    private const string ExceededCode = "budget_exceeded";
    private const string ExhaustedCode = "budget_exhausted";


    private readonly IBudgetStore _store;
    private readonly CallPricer _pricer;
    private readonly ITokenEstimator _estimator;
    private readonly ICostLedger? _ledger;
    private readonly TimeProvider _timeProvider;
    private readonly ILogger _logger;
    private readonly CostAwareMetrics _metrics;
    private readonly SettlementOutbox _outbox;
    private BudgetConfiguration _configuration;
    private int _deferredSettlements;
    private ChatClientMetadata? _metadata;

    /// <summary>Initializes a new instance of the <see cref="BudgetChatClient"/> class, with its budgets kept in this process's memory.</summary>
    /// <param name="innerClient">The client calls go on to.</param>
    /// <param name="options">The budgets and how they are kept; copied, and validated now.</param>
    /// <param name="priceCatalog">The prices reservations are estimated at; the built-in catalog when <see langword="null"/>.</param>
    /// <param name="tokenEstimator">Counts input tokens before the call; <see cref="TiktokenTokenEstimator.Default"/> when <see langword="null"/>.</param>
    /// <param name="ledger">Where receipts this stage opens are recorded, or <see langword="null"/>.</param>
    /// <param name="timeProvider">The clock windows and reservations follow; <see cref="TimeProvider.System"/> when <see langword="null"/>.</param>
    /// <param name="loggerFactory">Where the stage logs, or <see langword="null"/>.</param>
    /// <exception cref="ArgumentNullException"><paramref name="innerClient"/> or <paramref name="options"/> is <see langword="null"/>.</exception>
    /// <exception cref="Microsoft.Extensions.Options.OptionsValidationException"><paramref name="options"/> are not valid.</exception>
    public BudgetChatClient(
        IChatClient innerClient,
        BudgetOptions options,
        IPriceCatalog? priceCatalog = null,
        ITokenEstimator? tokenEstimator = null,
        ICostLedger? ledger = null,
        TimeProvider? timeProvider = null,
        ILoggerFactory? loggerFactory = null)
        : this(innerClient, options, priceCatalog, tokenEstimator, ledger, timeProvider, loggerFactory, store: null, metrics: null)
    {
    }

    internal BudgetChatClient(
        IChatClient innerClient,
        BudgetOptions options,
        IPriceCatalog? priceCatalog,
        ITokenEstimator? tokenEstimator,
        ICostLedger? ledger,
        TimeProvider? timeProvider,
        ILoggerFactory? loggerFactory,
        IBudgetStore? store,
        CostAwareMetrics? metrics)
        : base(innerClient)
    {
        ArgumentNullException.ThrowIfNull(options);
        BudgetOptionsValidation.ThrowIfInvalid(options);
        _configuration = new BudgetConfiguration(options.Clone());
        _logger = (loggerFactory ?? NullLoggerFactory.Instance).CreateLogger<BudgetChatClient>();
        _pricer = new CallPricer(priceCatalog ?? PriceCatalog.BuiltIn, _logger);
        _estimator = tokenEstimator ?? TiktokenTokenEstimator.Default;
        _ledger = ledger;
        _timeProvider = timeProvider ?? TimeProvider.System;
        _store = store ?? new InMemoryBudgetStore();
        _metrics = metrics ?? CostAwareMetrics.Shared;
        _outbox = new SettlementOutbox(_store, _timeProvider, _logger, _metrics);
        if (innerClient.GetService(typeof(TokenMeteringChatClient)) is null)
        {
            Log.BudgetUnmetered(_logger);
        }
    }

    // Settlements the store has not acknowledged yet (it was unreachable); they are retried until it does.
    internal int PendingSettlements => _outbox.PendingCount;

    // Calls whose settlement waits for work that outlived its caller (a shared cache miss still running).
    internal int DeferredSettlements => Volatile.Read(ref _deferredSettlements);

    internal Task DrainSettlementsAsync(CancellationToken cancellationToken) => _outbox.DrainAsync(cancellationToken);

    /// <summary>
    /// Replaces the budgets and options for the calls that follow, for example when a tenant changes plan. Calls in
    /// flight keep the limits they were admitted under; spend already counted stays counted.
    /// </summary>
    /// <param name="options">The new options; copied, and validated now.</param>
    /// <exception cref="ArgumentNullException"><paramref name="options"/> is <see langword="null"/>.</exception>
    /// <exception cref="Microsoft.Extensions.Options.OptionsValidationException"><paramref name="options"/> are not valid; the old ones stay in force.</exception>
    public void Reconfigure(BudgetOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        BudgetOptionsValidation.ThrowIfInvalid(options);
        Volatile.Write(ref _configuration, new BudgetConfiguration(options.Clone()));
    }

    /// <summary>Gets the state of every budget that applies to a scope, in its current window.</summary>
    /// <param name="scope">The scope, for example <c>new CostScope { Tenant = "acme" }</c>.</param>
    /// <param name="cancellationToken">Cancels the query.</param>
    /// <returns>One status per applicable budget, in budget-name order.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="scope"/> is <see langword="null"/>.</exception>
    /// <exception cref="BudgetStoreUnavailableException">The budget store cannot be reached.</exception>
    public async Task<IReadOnlyList<BudgetStatus>> GetStatusAsync(CostScope scope, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(scope);
        BudgetConfiguration configuration = Volatile.Read(ref _configuration);
        DateTimeOffset now = _timeProvider.GetUtcNow();
        List<CompiledBudget> budgets = [];
        List<BudgetLine> lines = [];
        List<BudgetPeriod> periods = [];
        foreach (CompiledBudget budget in configuration.Budgets)
        {
            if (budget.AppliesTo(scope))
            {
                budgets.Add(budget);
                lines.Add(budget.Line(scope, now, out BudgetPeriod period));
                periods.Add(period);
            }
        }

        BudgetCounterState[] states = new BudgetCounterState[lines.Count];
        try
        {
            await _store.ReadAsync(lines.ToArray(), now.ToUnixTimeMilliseconds(), states, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            throw new BudgetStoreUnavailableException("The budget store could not be read.", ex);
        }

        BudgetStatus[] statuses = new BudgetStatus[budgets.Count];
        for (int i = 0; i < statuses.Length; i++)
        {
            statuses[i] = Status(budgets[i], scope, lines[i], periods[i], states[i]);
        }

        return statuses;
    }

    /// <inheritdoc />
    /// <exception cref="ArgumentException"><c>MaxOutputTokens</c> is zero or negative, or a CostAware key holds a value of the wrong type.</exception>
    /// <exception cref="BudgetExceededException">A budget has no room for the call; nothing was paid.</exception>
    /// <exception cref="UnknownModelPriceException">The call's model has no price and <see cref="BudgetOptions.UnpricedCalls"/> is <see cref="UnpricedCallPolicy.Refuse"/>.</exception>
    /// <exception cref="BudgetStoreUnavailableException">The budget store cannot be reached and <see cref="BudgetOptions.StoreFailureMode"/> is <see cref="BudgetStoreFailureMode.FailClosed"/>.</exception>
    public override async Task<ChatResponse> GetResponseAsync(
        IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(messages);
        MessageChecks.ThrowIfInvalid(messages, nameof(messages));
        BudgetCall? call = Plan(messages, options);
        if (call is null)
        {
            return await base.GetResponseAsync(messages, options, cancellationToken);
        }

        Admission admission = await AdmitOrCloseAsync(call, cancellationToken);
        if (admission.Refusal is { } refusal && !admission.CacheOnly)
        {
            CloseIfOwned(call);
            throw refusal;
        }

        ChatOptions? forwarded = null;
        ChatResponse? response = null;
        try
        {
            forwarded = Forward(call, options, admission);
            response = await base.GetResponseAsync(messages, forwarded, cancellationToken);
            return response;
        }
        finally
        {
            // On success, failure and cancellation alike: what the inner stages spent is counted, the rest released.
            if (response is not null)
            {
                PriceIfUnmetered(call, messages, forwarded!, response.Usage, response.ModelId, response.Text);
                (response.AdditionalProperties ??= [])[CostAwareProperties.Receipt] = call.Receipt;
            }

            await FinishAsync(call, admission);
        }
    }

    /// <inheritdoc />
    public override IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(
        IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(messages);
        MessageChecks.ThrowIfInvalid(messages, nameof(messages));
        BudgetCall? call = Plan(messages, options);
        return call is null ? base.GetStreamingResponseAsync(messages, options, cancellationToken) : StreamAsync(call, messages, options, cancellationToken);
    }

    /// <inheritdoc />
    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            // Settlements still waiting for an unreachable store stop being retried; their reservations lapse after
            // ReservationTimeout (docs/budgets.md).
            _outbox.Dispose();
        }

        base.Dispose(disposing);
    }

    private ChatClientMetadata Metadata => _metadata ??= InnerClient.GetService<ChatClientMetadata>() ?? new ChatClientMetadata();

    private async IAsyncEnumerable<ChatResponseUpdate> StreamAsync(
        BudgetCall call, IEnumerable<ChatMessage> messages, ChatOptions? options, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        Admission admission = await AdmitOrCloseAsync(call, cancellationToken);
        if (admission.Refusal is { } refusal && !admission.CacheOnly)
        {
            CloseIfOwned(call);
            if (call.Configuration.Options.ThrowOnRefusedStream)
            {
                throw refusal;
            }

            yield return ErrorUpdate(refusal.Message, ExceededCode, admission.RefusedStatus, finishReason: null, receipt: null);
            yield break;
        }

        ChatOptions? forwarded = null;
        UsageDetails? usage = null;
        StringBuilder? text = null;
        string? modelId = null;
        string? responseId = null;
        bool started = false;
        bool receiptSent = false;
        long outputTokens = 0;
        string? stoppedBy = null;
        IAsyncEnumerator<ChatResponseUpdate>? updates = null;
        try
        {
            // Inside the try: an inner stage that throws before it returns its stream (a bad request) releases the
            // reservation like any other failure.
            forwarded = Forward(call, options, admission);
            updates = base.GetStreamingResponseAsync(messages, forwarded, cancellationToken).GetAsyncEnumerator(cancellationToken);
            while (await updates.MoveNextAsync())
            {
                ChatResponseUpdate update = updates.Current;
                started = true;
                modelId ??= update.ModelId;
                responseId ??= update.ResponseId;
                receiptSent |= update.AdditionalProperties is not null && ReferenceEquals(update.GetCostReceipt(), call.Receipt);
                IList<AIContent> contents = update.Contents;
                long produced = 0;
                for (int i = 0; i < contents.Count; i++)
                {
                    switch (contents[i])
                    {
                        case UsageContent u:
                            (usage ??= new UsageDetails()).Add(u.Details);
                            break;
                        case TextContent t when t.Text is { Length: > 0 }:
                            (text ??= new StringBuilder()).Append(t.Text);
                            produced += _estimator.CountTokens(t.Text, admission.ModelId);
                            break;
                        case TextReasoningContent r when r.Text is { Length: > 0 }:
                            produced += _estimator.CountTokens(r.Text, admission.ModelId);
                            break;
                    }
                }

                if (produced > 0)
                {
                    outputTokens += produced;
                    // The running cost may pass the reservation only if the provider ignores the output limit, or the
                    // input was under-estimated: then more room is asked for, and the stream stops where there is none.
                    long running = Estimate(admission.Price, call.InputTokens, outputTokens, admission.Batch);
                    if (running > admission.Amount && !admission.Unchecked && !admission.CacheOnly)
                    {
                        stoppedBy = await TopUpAsync(call, admission, running, cancellationToken);
                        if (stoppedBy is not null)
                        {
                            Log.BudgetStreamStopped(_logger, stoppedBy, outputTokens);
                            _metrics.RecordBudgetExceeded(stoppedBy, "stream_stopped");
                            break;
                        }
                    }
                }

                yield return update;
            }
        }
        finally
        {
            // Runs on completion, on error and when the consumer stops early: what was produced was paid for.
            if (updates is not null)
            {
                await updates.DisposeAsync();
            }

            if (started)
            {
                PriceIfUnmetered(call, messages, forwarded!, usage, modelId, text?.ToString());
            }

            await FinishAsync(call, admission);
        }

        if (stoppedBy is not null)
        {
            yield return ErrorUpdate(
                $"Budget '{stoppedBy}' has no room for more output; the answer was stopped after about {outputTokens} output tokens.",
                ExhaustedCode,
                status: null,
                ChatFinishReason.Length,
                call.Owned ? call.Receipt : null);
        }
        else if (call.Owned && !receiptSent)
        {
            yield return CacheSettlement.ReceiptUpdate(call.Receipt, modelId, responseId);
        }
    }

    private static ChatResponseUpdate ErrorUpdate(string message, string code, BudgetStatus? status, ChatFinishReason? finishReason, CostReceipt? receipt)
    {
        ErrorContent error = new(message) { ErrorCode = code };
        if (status is not null)
        {
            error.AdditionalProperties = new() { [CostAwareProperties.BudgetStatus] = status };
        }

        ChatResponseUpdate update = new(ChatRole.Assistant, [error]) { FinishReason = finishReason };
        if (receipt is not null)
        {
            update.AdditionalProperties = new() { [CostAwareProperties.Receipt] = receipt };
        }

        return update;
    }

    // The budgets that apply to the call, their counter lines, and what the call is estimated to need. Null when no
    // budget applies: the call passes straight through.
    private BudgetCall? Plan(IEnumerable<ChatMessage> messages, ChatOptions? options)
    {
        BudgetConfiguration configuration = Volatile.Read(ref _configuration);
        if (configuration.Budgets.Length == 0)
        {
            return null;
        }

        // The scope an outer CostAware stage resolved, or the caller's (per-call over ambient). Nothing else a caller
        // puts under CostAware's keys is read.
        CostCallContext? outer = CostCallContext.Find(options);
        CostScope scope = outer?.Scope ?? options.ResolveCostScope();
        DateTimeOffset now = _timeProvider.GetUtcNow();
        int count = 0;
        foreach (CompiledBudget budget in configuration.Budgets)
        {
            count += budget.AppliesTo(scope) ? 1 : 0;
        }

        if (count == 0)
        {
            return null;
        }

        if (options?.MaxOutputTokens is int asked && asked <= 0)
        {
            throw new ArgumentException(
                $"ChatOptions.MaxOutputTokens is {asked}; it must be positive, or null for the model's own limit. A call without an output limit cannot be held to a budget.",
                nameof(options));
        }

        CompiledBudget[] budgets = new CompiledBudget[count];
        BudgetLine[] lines = new BudgetLine[count];
        BudgetPeriod[] periods = new BudgetPeriod[count];
        int next = 0;
        foreach (CompiledBudget budget in configuration.Budgets)
        {
            if (budget.AppliesTo(scope))
            {
                budgets[next] = budget;
                lines[next] = budget.Line(scope, now, out periods[next]);
                next++;
            }
        }

        string? modelId = options?.ModelId ?? Metadata.DefaultModelId;
        ModelPrice? price = PriceOf(modelId);
        long input = _estimator.EstimateInputTokens(messages, options, modelId);
        long inputWithMargin = WithMargin(input, configuration);
        int output = OutputLimit(options?.MaxOutputTokens, price, configuration);
        CostCallContext context = outer ?? CostCallContext.FindOrOpen(options, _timeProvider, out _);
        return new BudgetCall(
            configuration, scope, budgets, lines, periods, context, Owned: outer is null, context.Receipt.Entries.Length, messages, modelId, price, inputWithMargin, output, Guid.NewGuid().ToString("N"))
        {
            Deferral = options.GetDeferral(),
        };
    }

    private static long WithMargin(long input, BudgetConfiguration configuration) => (long)Math.Ceiling(input * (1 + configuration.Options.InputEstimateMargin));

    // The output a call may produce, and is reserved for: what it asks, capped by the ceiling and by the model's own
    // output limit from the catalog (so a model with a lower limit is never sent, nor reserved for, more).
    private static int OutputLimit(int? asked, ModelPrice? price, BudgetConfiguration configuration)
    {
        int limit = configuration.Options.MaxOutputTokensCeiling;
        if (price?.MaxOutputTokens is int modelMax && modelMax < limit)
        {
            limit = modelMax;
        }

        return asked is int a && a > 0 ? Math.Min(a, limit) : limit;
    }

    private async ValueTask<Admission> AdmitOrCloseAsync(BudgetCall call, CancellationToken cancellationToken)
    {
        try
        {
            return await AdmitAsync(call, cancellationToken);
        }
        catch
        {
            CloseIfOwned(call);
            throw;
        }
    }

    private static void CloseIfOwned(BudgetCall call)
    {
        if (call.Owned)
        {
            call.Context.Close();
        }
    }

    // Reserves the call's worst case in every budget at once; when a budget refuses, tries the degrade its Action asks
    // for (each at most once) and reserves again. Returns the admission, or the refusal to throw. A reservation made
    // here is released again if anything after it fails (an event handler that honours cancellation included).
    private async ValueTask<Admission> AdmitAsync(BudgetCall call, CancellationToken cancellationToken)
    {
        string? modelId = call.ModelId;
        ModelPrice? price = call.Price;
        if (price is null)
        {
            ThrowIfUnpricedRefused(call, modelId);
        }

        int output = call.OutputTokens;

        // A call the caller marked deferrable is reserved at the synchronous price: it may well be sent synchronously
        // (no batch stage, no batch provider for its model, a deadline too soon). Only the Defer action reserves at the
        // batch price, and a call it defers that goes synchronously after all is topped up before it is sent.
        bool batch = false;
        Deferral? deferral = null;
        long requested = Estimate(price, call.InputTokens, output, batch);
        long amount = requested;
        HashSet<BudgetAction>? tried = null;
        List<(CompiledBudget Budget, BudgetStatus Status, BudgetAction Action)>? exceeded = null;
        long nowMs = _timeProvider.GetUtcNow().ToUnixTimeMilliseconds();

        while (true)
        {
            BudgetReserveResult result;
            try
            {
                result = await _store.ReserveAsync(call.Lines, call.ReservationId, amount, countCall: true, nowMs, call.Configuration.ReservationTimeoutMs, cancellationToken);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                if (call.Configuration.Options.StoreFailureMode == BudgetStoreFailureMode.FailOpen)
                {
                    // Let through: its settlement (through the outbox) releases the reservation if the reserve got there.
                    Log.BudgetStoreFailedOpen(_logger, ex);
                    _metrics.RecordBudgetStoreFailure("reserve", "fail_open");
                    return new Admission(amount, modelId, price, output, batch, deferral, isUnchecked: true, refusal: null, refusedStatus: null);
                }

                // The reserve may have reached the store before it failed: its reservation is released once it answers.
                _outbox.Release(call.Lines, call.ReservationId);
                Log.BudgetStoreFailedClosed(_logger, ex);
                _metrics.RecordBudgetStoreFailure("reserve", "fail_closed");
                throw new BudgetStoreUnavailableException(
                    "The budget store could not be reached, so the call was refused (BudgetOptions.StoreFailureMode is FailClosed; set FailOpen to let calls through unchecked while it is down).", ex);
            }

            if (result.Admitted)
            {
                Admission admitted = new(amount, modelId, price, output, batch, deferral, isUnchecked: false, refusal: null, refusedStatus: null);
                try
                {
                    await ReportAllowedOverAsync(call, result.OverMask, nowMs, exceeded, requested, cancellationToken);
                }
                catch
                {
                    // Nothing will settle this reservation: it is released now rather than pinning the budget.
                    await ReleaseAsync(call);
                    throw;
                }

                return admitted;
            }

            int line = result.RefusedLine;
            CompiledBudget budget = call.Budgets[line];
            BudgetStatus status = Status(call, line, result.State);
            BudgetAction action = budget.Action;
            bool callLimited = budget.MaxCalls >= 0 && result.State.Calls + 1 > budget.MaxCalls;
            bool degraded = false;
            if (!callLimited && (tried ??= []).Add(action))
            {
                switch (action)
                {
                    case BudgetAction.ClampOutput when price is not null:
                    {
                        long room = call.Lines[line].Limit - result.State.Spent - result.State.Reserved - Estimate(price, call.InputTokens, 0, batch);
                        long perToken = Math.Max(1, Estimate(price, 0, 1_000_000, batch) / 1_000_000);
                        long affordable = room / perToken;
                        if (affordable >= call.Configuration.Options.MinimumOutputTokens && affordable < output)
                        {
                            output = (int)affordable;
                            degraded = true;
                        }

                        break;
                    }

                    case BudgetAction.SwitchModel when !string.Equals(budget.FallbackModelId, modelId, StringComparison.OrdinalIgnoreCase)
                        && PriceOf(budget.FallbackModelId) is { } fallbackPrice:
                        modelId = budget.FallbackModelId;
                        price = fallbackPrice;
                        output = Math.Min(output, OutputLimit(output, price, call.Configuration));
                        degraded = true;
                        break;
                    case BudgetAction.Defer when !batch && price is not null:
                        batch = true;
                        deferral = new Deferral { RequestedBy = "budget:" + budget.Name };
                        degraded = true;
                        break;
                }
            }

            if (degraded)
            {
                Log.BudgetDegraded(_logger, budget.Name, action);
                _metrics.RecordBudgetExceeded(budget.Name, ActionName(action));
                (exceeded ??= []).Add((budget, status, action));
                amount = Estimate(price, call.InputTokens, output, batch);
                continue;
            }

            BudgetExceededException refusal = new(
                budget.Name, status.ScopeKey, budget.Window, status.ResetsAt, status.Limit, status.Spent, status.Reserved, BudgetMoney.ToCurrency(amount), status.MaxCalls, status.Calls);
            if (!callLimited && call.Configuration.Options.ServeCacheHitsWhenExhausted)
            {
                // No money left, but an answer already paid for may be served: nothing is reserved, and any provider
                // call the inner stages would make is refused with this refusal.
                Log.BudgetDegraded(_logger, budget.Name, BudgetAction.Refuse);
                _metrics.RecordBudgetExceeded(budget.Name, "cache_only");
                (exceeded ??= []).Add((budget, status, BudgetAction.Refuse));
                await RaiseExceededAsync(call, exceeded, requested, cancellationToken);
                return new Admission(0, modelId, price, output, batch, deferral, isUnchecked: false, refusal, status) { CacheOnly = true };
            }

            Log.BudgetRefused(_logger, budget.Name, budget.Window, status.Limit, status.Spent, status.Reserved, BudgetMoney.ToCurrency(amount), status.Calls);
            _metrics.RecordBudgetExceeded(budget.Name, "refuse");
            (exceeded ??= []).Add((budget, status, BudgetAction.Refuse));
            await RaiseExceededAsync(call, exceeded, requested, cancellationToken);
            return new Admission(amount, modelId, price, output, batch, deferral, isUnchecked: false, refusal, status);
        }
    }

    // A soft limit passed (the Allow action) or a degrade was chosen: the budgets' state is read back for the events.
    private async ValueTask ReportAllowedOverAsync(
        BudgetCall call, long overMask, long nowMs, List<(CompiledBudget Budget, BudgetStatus Status, BudgetAction Action)>? exceeded, long requested, CancellationToken cancellationToken)
    {
        if (overMask != 0)
        {
            BudgetCounterState[] states = new BudgetCounterState[call.Lines.Length];
            try
            {
                await _store.ReadAsync(call.Lines, nowMs, states, cancellationToken);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                Log.BudgetStoreFailedOpen(_logger, ex);
            }

            for (int i = 0; i < call.Budgets.Length && i < 64; i++)
            {
                if ((overMask & (1L << i)) != 0)
                {
                    Log.BudgetAllowedOver(_logger, call.Budgets[i].Name);
                    _metrics.RecordBudgetExceeded(call.Budgets[i].Name, "allow");
                    (exceeded ??= []).Add((call.Budgets[i], Status(call, i, states[i]), BudgetAction.Allow));
                }
            }
        }

        if (exceeded is not null)
        {
            await RaiseExceededAsync(call, exceeded, requested, cancellationToken);
        }
    }

    private async ValueTask ReleaseAsync(BudgetCall call)
    {
        _ = await _outbox.SettleAsync(call.Lines, call.ReservationId, 0, _timeProvider.GetUtcNow().ToUnixTimeMilliseconds(), new long[call.Lines.Length]);
    }

    private void ThrowIfUnpricedRefused(BudgetCall call, string? modelId)
    {
        if (call.Configuration.Options.UnpricedCalls == UnpricedCallPolicy.Refuse)
        {
            Log.BudgetUnpriced(_logger, modelId, "refused");
            _metrics.RecordBudgetUnpriced(modelId, "refuse");
            throw new UnknownModelPriceException(
                modelId,
                $"The call goes to model '{modelId ?? "(none)"}', which has no price, so budget '{call.Budgets[0].Name}' cannot bound it and it was refused before the provider was asked. "
                + "Add the model under CostAware:Prices, map a deployment name to a priced model with CostAware:ModelAliases, or set CostAware:Budget:UnpricedCalls to Allow.");
        }

        Log.BudgetUnpriced(_logger, modelId, "let through with nothing reserved");
        _metrics.RecordBudgetUnpriced(modelId, "allow");
    }

    // Asks for room for a stream that runs past its reservation; returns the budget that has none, or null.
    private async ValueTask<string?> TopUpAsync(BudgetCall call, Admission admission, long running, CancellationToken cancellationToken)
    {
        long extra = Math.Max(running - admission.Amount, admission.Amount / 4);
        (int line, _) = await ReserveMoreAsync(call, admission, extra, cancellationToken);
        return line == Reserved ? null : call.Budgets[Math.Max(line, 0)].Name;
    }

    private const int Reserved = -1;
    private const int StoreDown = -2;

    // Reserves more for a call already admitted, under the same reservation. Returns Reserved (the amount was added to
    // the admission, or let through because the store is down and StoreFailureMode is FailOpen), StoreDown (the store
    // is down and FailClosed), or the line that refused with its state.
    private async ValueTask<(int Line, BudgetCounterState State)> ReserveMoreAsync(BudgetCall call, Admission admission, long extra, CancellationToken cancellationToken)
    {
        try
        {
            BudgetReserveResult result = await _store.ReserveAsync(
                call.Lines, call.ReservationId, extra, countCall: false, _timeProvider.GetUtcNow().ToUnixTimeMilliseconds(), call.Configuration.ReservationTimeoutMs, cancellationToken);
            if (result.Admitted)
            {
                admission.AddReserved(extra);
                return (Reserved, default);
            }

            return (result.RefusedLine, result.State);
        }
        catch (Exception ex) when (ex is not OperationCanceledException && call.Configuration.Options.StoreFailureMode == BudgetStoreFailureMode.FailOpen)
        {
            Log.BudgetStoreFailedOpen(_logger, ex);
            _metrics.RecordBudgetStoreFailure("reserve", "fail_open");
            admission.AddReserved(extra);
            return (Reserved, default);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            Log.BudgetStoreFailedClosed(_logger, ex);
            _metrics.RecordBudgetStoreFailure("reserve", "fail_closed");
            return (StoreDown, default);
        }
    }

    // The call is over for its caller. Its reservation is settled once no work charges its receipt any more: at once,
    // or, when the caller left while work still runs (a shared cache miss another caller waits for), when that work ends.
    private ValueTask FinishAsync(BudgetCall call, Admission admission)
    {
        if (!call.Context.HasPendingWork)
        {
            return SettleAsync(call, admission);
        }

        _ = Interlocked.Increment(ref _deferredSettlements);
        _ = SettleWhenIdleAsync(call, admission);
        return ValueTask.CompletedTask;
    }

    private async Task SettleWhenIdleAsync(BudgetCall call, Admission admission)
    {
        try
        {
            await call.Context.WhenIdleAsync().ConfigureAwait(false);
            await SettleAsync(call, admission).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            Log.CallbackFailed(_logger, call.Receipt.Id, ex);
        }
        finally
        {
            _ = Interlocked.Decrement(ref _deferredSettlements);
        }
    }

    private async ValueTask SettleAsync(BudgetCall call, Admission admission)
    {
        admission.MarkSettled();
        decimal spent = 0m;
        bool unpriced = false;
        var entries = call.Receipt.Entries;
        for (int i = call.FirstEntry; i < entries.Length; i++)
        {
            spent += entries[i].Cost?.Total ?? 0m;
            unpriced |= entries[i].Cost is null && entries[i].Kind == CostEntryKind.ProviderCall;
        }

        long actual = BudgetMoney.ToUnitsCeiling(spent);
        long reserved = admission.Amount;
        string? unaccounted = call.Context.UnaccountedCostReason ?? (unpriced ? "a provider call could not be priced" : null);
        if (unaccounted is not null && actual < reserved)
        {
            // Part of the cost cannot be seen (a deferred answer still to come, a model the catalog does not know): the
            // call is counted at what it reserved, never at less.
            Log.BudgetSettledAtReservation(_logger, unaccounted, BudgetMoney.ToCurrency(reserved));
            actual = reserved;
        }
        else if (actual > reserved && admission.Price is not null)
        {
            Log.BudgetOverrun(_logger, admission.ModelId, spent, BudgetMoney.ToCurrency(reserved));
        }

        // Settled even when the call was let through unchecked (the store was down at reserve): the money was spent,
        // and the outbox applies it once the store answers again.
        long[] windowSpent = new long[call.Lines.Length];
        bool settled = await _outbox.SettleAsync(call.Lines, call.ReservationId, actual, _timeProvider.GetUtcNow().ToUnixTimeMilliseconds(), windowSpent);
        if (settled && actual > 0)
        {
            await RaiseThresholdsAsync(call, actual, windowSpent);
        }

        if (call.Owned)
        {
            if (call.Configuration.Options.RecordToLedger && _ledger is not null && call.Receipt.Entries.Length > 0)
            {
                await LedgerRecording.RecordAsync(_ledger, call.Receipt, _logger);
            }

            call.Context.Close();
        }
    }

    private async ValueTask RaiseThresholdsAsync(BudgetCall call, long actual, long[] windowSpent)
    {
        for (int i = 0; i < call.Budgets.Length; i++)
        {
            CompiledBudget budget = call.Budgets[i];
            long limit = call.Lines[i].Limit;
            if (limit <= 0)
            {
                continue;
            }

            long after = windowSpent[i];
            long before = after - actual;
            foreach (double threshold in budget.Thresholds)
            {
                long mark = (long)decimal.Ceiling(limit * (decimal)threshold);
                if (before < mark && after >= mark)
                {
                    BudgetStatus status = Status(call, i, new BudgetCounterState(after, 0, 0)) with { Reserved = 0m, Calls = 0 };
                    Log.BudgetThresholdCrossed(_logger, budget.Name, threshold, status.Spent, status.Limit);
                    _metrics.RecordBudgetThreshold(budget.Name, threshold);
                    if (call.Configuration.Options.OnThresholdCrossed is { } callback)
                    {
                        try
                        {
                            await callback(new BudgetThresholdArguments(status, threshold, call.Scope, CancellationToken.None));
                        }
                        catch (Exception ex) when (ex is not OperationCanceledException)
                        {
                            Log.CallbackFailed(_logger, call.Receipt.Id, ex);
                        }
                    }
                }
            }
        }
    }

    private async ValueTask RaiseExceededAsync(
        BudgetCall call, List<(CompiledBudget Budget, BudgetStatus Status, BudgetAction Action)> exceeded, long requested, CancellationToken cancellationToken)
    {
        if (call.Configuration.Options.OnBudgetExceeded is not { } callback)
        {
            return;
        }

        foreach ((CompiledBudget _, BudgetStatus status, BudgetAction action) in exceeded)
        {
            try
            {
                await callback(new BudgetExceededArguments(status, BudgetMoney.ToCurrency(requested), action, call.Scope, cancellationToken));
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                Log.CallbackFailed(_logger, call.Receipt.Id, ex);
            }
        }
    }

    // The options the inner stages see: the caller's, with the call's context (and this budget's hold on it) and the
    // admission's changes applied (a clamped or ceiling-limited output, a cheaper model, a deferral).
    private ChatOptions Forward(BudgetCall call, ChatOptions? options, Admission admission)
    {
        call.Context.AddBudget(new Hold(this, call, admission));
        ChatOptions forwarded = call.Context.Forward(options);
        if (!string.Equals(admission.ModelId, call.ModelId, StringComparison.Ordinal))
        {
            forwarded.ModelId = admission.ModelId;
        }

        bool limitOutput = call.Configuration.Options.LimitOutputToCeiling || admission.OutputTokens < call.OutputTokens;
        if (limitOutput && (forwarded.MaxOutputTokens is not int asked || asked > admission.OutputTokens))
        {
            forwarded.MaxOutputTokens = admission.OutputTokens;
        }

        if (admission.Deferral is { } deferral && forwarded.GetDeferral() is null)
        {
            _ = forwarded.WithDeferral(deferral);
        }

        return forwarded;
    }

    private async ValueTask<decimal?> HeadroomAsync(BudgetCall call, CancellationToken cancellationToken)
    {
        BudgetCounterState[] states = new BudgetCounterState[call.Lines.Length];
        await _store.ReadAsync(call.Lines, _timeProvider.GetUtcNow().ToUnixTimeMilliseconds(), states, cancellationToken);
        decimal? least = null;
        for (int i = 0; i < states.Length; i++)
        {
            if (call.Lines[i].Limit >= 0 && call.Lines[i].Enforce)
            {
                decimal left = BudgetMoney.ToCurrency(call.Lines[i].Limit - states[i].Spent - states[i].Reserved);
                least = least is null ? left : Math.Min(least.Value, left);
            }
        }

        return least;
    }

    // Without a metering stage inside, nothing put the call on the receipt: it is priced here, from the reported usage
    // or, failing that, from estimated tokens.
    private void PriceIfUnmetered(BudgetCall call, IEnumerable<ChatMessage> messages, ChatOptions forwarded, UsageDetails? usage, string? responseModel, string? text)
    {
        if (call.Receipt.Entries.Length > call.FirstEntry)
        {
            return;
        }

        string? modelId = responseModel ?? forwarded.ModelId ?? call.ModelId;
        bool estimated = UsageReader.ReadOrEstimate(usage, _estimator, messages, forwarded, modelId, text, out TokenCounts tokens, out _);
        call.Receipt.Add(_pricer.Price(
            CostEntryKind.ProviderCall, modelId, Metadata.ProviderName, tokens, estimated, batch: false, _timeProvider.GetUtcNow(), StageName, mayThrow: false));
    }

    private ModelPrice? PriceOf(string? modelId)
    {
        if (modelId is not null && _pricer.Catalog.TryGetPrice(modelId, out ModelPrice? price))
        {
            return price;
        }

        return _pricer.Catalog.UnknownModelPolicy == UnknownModelPolicy.UseDefaultPrice ? _pricer.Catalog.DefaultPrice : null;
    }

    // The most a call can cost: every input token at the dearest input class (a cache write can cost twice the input
    // price), every output token at the dearer of output and reasoning.
    private static long Estimate(ModelPrice? price, long inputTokens, long outputTokens, bool batch) =>
        price is null ? 0 : BudgetMoney.ToUnitsCeiling(price.CalculateWorstCaseCost(inputTokens, outputTokens, batch));

    private static string ActionName(BudgetAction action) => action switch
    {
        BudgetAction.ClampOutput => "clamp_output",
        BudgetAction.SwitchModel => "switch_model",
        BudgetAction.Defer => "defer",
        BudgetAction.Allow => "allow",
        _ => "refuse",
    };

    private static BudgetStatus Status(BudgetCall call, int line, BudgetCounterState state) =>
        Status(call.Budgets[line], call.Scope, call.Lines[line], call.Periods[line], state);

    private static BudgetStatus Status(CompiledBudget budget, CostScope scope, BudgetLine line, BudgetPeriod period, BudgetCounterState state) => new()
    {
        BudgetName = budget.Name,
        ScopeKey = budget.ScopeKey(scope),
        Window = budget.Window,
        WindowStart = period.Start,
        ResetsAt = period.End,
        Limit = line.Limit >= 0 ? BudgetMoney.ToCurrency(line.Limit) : null,
        Spent = BudgetMoney.ToCurrency(state.Spent),
        Reserved = BudgetMoney.ToCurrency(state.Reserved),
        MaxCalls = line.MaxCalls >= 0 ? line.MaxCalls : null,
        Calls = state.Calls,
    };

    private sealed record class BudgetCall(
        BudgetConfiguration Configuration,
        CostScope Scope,
        CompiledBudget[] Budgets,
        BudgetLine[] Lines,
        BudgetPeriod[] Periods,
        CostCallContext Context,
        bool Owned,
        int FirstEntry,
        IEnumerable<ChatMessage> Messages,
        string? ModelId,
        ModelPrice? Price,
        long InputTokens,
        int OutputTokens,
        string ReservationId)
    {
        public Deferral? Deferral { get; init; }

        public CostReceipt Receipt => Context.Receipt;
    }

    private sealed class Admission(
        long amount, string? modelId, ModelPrice? price, int outputTokens, bool batch, Deferral? deferral, bool isUnchecked, BudgetExceededException? refusal, BudgetStatus? refusedStatus)
    {
        private long _amount = amount;
        private int _settled;

        // What is reserved in the store for the call, in store units; it grows with every top-up.
        public long Amount => Volatile.Read(ref _amount);

        public string? ModelId { get; } = modelId;

        public ModelPrice? Price { get; } = price;

        public int OutputTokens { get; } = outputTokens;

        public bool Batch { get; } = batch;

        public Deferral? Deferral { get; } = deferral;

        public bool Unchecked { get; } = isUnchecked;

        // Admitted only to be answered from a cache: nothing is reserved, and every provider call is refused.
        public bool CacheOnly { get; init; }

        public BudgetExceededException? Refusal { get; } = refusal;

        public BudgetStatus? RefusedStatus { get; } = refusedStatus;

        public bool IsSettled => Volatile.Read(ref _settled) != 0;

        public void AddReserved(long extra) => Interlocked.Add(ref _amount, extra);

        public void MarkSettled() => Volatile.Write(ref _settled, 1);
    }

    // This budget's hold on one call, offered to the inner stages through the call's context: the money left, and room
    // for each real provider call before it is made. The first provider call normally fits in what was reserved at
    // admission; a further one (a cascade tier, a judge, a retry, a deferred call sent synchronously) tops the
    // reservation up first, or is refused before it is paid for.
    private sealed class Hold(BudgetChatClient owner, BudgetCall call, Admission admission) : ICostCallBudget
    {
        private readonly Lock _gate = new();
        private long _inFlight;
        private long _claimed;

        public bool IsCacheOnly => admission.CacheOnly;

        public ValueTask<decimal?> GetRemainingAsync(CancellationToken cancellationToken) => owner.HeadroomAsync(call, cancellationToken);

        public async ValueTask<IDisposable> AdmitProviderCallAsync(
            CostCallContext context, IEnumerable<ChatMessage> messages, ChatOptions? options, string? modelId, bool batch, CancellationToken cancellationToken)
        {
            ArgumentNullException.ThrowIfNull(messages);
        MessageChecks.ThrowIfInvalid(messages, nameof(messages));
            if (admission.CacheOnly)
            {
                throw owner.CopyRefusal(admission);
            }

            if (admission.IsSettled)
            {
                throw new InvalidOperationException("The call was already settled with its budgets; a stage that makes provider calls after its caller returned must register them with CostCallContext.BeginWork.");
            }

            modelId ??= call.ModelId;
            ModelPrice? price = owner.PriceOf(modelId);
            if (price is null)
            {
                owner.ThrowIfUnpricedRefused(call, modelId);
                return Lease.None;
            }

            if (admission.Unchecked)
            {
                return Lease.None;
            }

            long input = ReferenceEquals(messages, call.Messages)
                ? call.InputTokens
                : WithMargin(owner._estimator.EstimateInputTokens(messages, options, modelId), call.Configuration);
            int output = options?.MaxOutputTokens is int asked && asked > 0
                ? asked
                : price.MaxOutputTokens ?? call.Configuration.Options.MaxOutputTokensCeiling;
            long worst = Estimate(price, input, output, batch);
            long extra;
            lock (_gate)
            {
                long needed = SpentSoFar() + _inFlight + worst;
                extra = Math.Max(0, needed - admission.Amount - _claimed);
                _inFlight += worst;
                _claimed += extra;
            }

            if (extra > 0)
            {
                (int line, BudgetCounterState state) result;
                try
                {
                    result = await owner.ReserveMoreAsync(call, admission, extra, cancellationToken);
                }
                catch
                {
                    Undo(worst, extra);
                    throw;
                }

                lock (_gate)
                {
                    _claimed -= extra;
                }

                if (result.line != Reserved)
                {
                    Undo(worst, extra: 0);
                    throw result.line == StoreDown
                        ? new BudgetStoreUnavailableException("The budget store could not be reached, so a further provider call of this request was refused (BudgetOptions.StoreFailureMode is FailClosed).")
                        : owner.Refuse(call, result.line, result.state, extra);
                }
            }

            return new Lease(this, worst);
        }

        private void Undo(long worst, long extra)
        {
            lock (_gate)
            {
                _inFlight -= worst;
                _claimed -= extra;
            }
        }

        private void Release(long worst)
        {
            lock (_gate)
            {
                _inFlight -= worst;
            }
        }

        // What this call's provider calls have cost so far, rounded up as settlement rounds it.
        private long SpentSoFar()
        {
            decimal spent = 0m;
            var entries = call.Receipt.Entries;
            for (int i = call.FirstEntry; i < entries.Length; i++)
            {
                spent += entries[i].Cost?.Total ?? 0m;
            }

            return BudgetMoney.ToUnitsCeiling(spent);
        }

        private sealed class Lease(Hold? hold, long worst) : IDisposable
        {
            public static readonly Lease None = new(hold: null, 0);

            private int _disposed;

            public void Dispose()
            {
                if (hold is not null && Interlocked.Exchange(ref _disposed, 1) == 0)
                {
                    hold.Release(worst);
                }
            }
        }
    }

    private BudgetExceededException CopyRefusal(Admission admission)
    {
        BudgetExceededException refusal = admission.Refusal!;
        _metrics.RecordBudgetExceeded(refusal.BudgetName, "refuse");
        return new BudgetExceededException(
            refusal.BudgetName, refusal.ScopeKey, refusal.Window, refusal.ResetsAt, refusal.Limit, refusal.Spent, refusal.Reserved, refusal.Requested, refusal.MaxCalls, refusal.Calls);
    }

    private BudgetExceededException Refuse(BudgetCall call, int line, BudgetCounterState state, long requested)
    {
        CompiledBudget budget = call.Budgets[line];
        BudgetStatus status = Status(call, line, state);
        Log.BudgetRefused(_logger, budget.Name, budget.Window, status.Limit, status.Spent, status.Reserved, BudgetMoney.ToCurrency(requested), status.Calls);
        _metrics.RecordBudgetExceeded(budget.Name, "refuse");
        return new BudgetExceededException(
            budget.Name, status.ScopeKey, budget.Window, status.ResetsAt, status.Limit, status.Spent, status.Reserved, BudgetMoney.ToCurrency(requested), status.MaxCalls, status.Calls);
    }
}

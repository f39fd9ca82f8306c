using System.Runtime.CompilerServices;
using System.Text;
using CostAware.Internal;
using CostAware.Internal.Budgets;
using CostAware.Internal.PromptCache;
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
/// <see cref="BudgetOptions.InputEstimateMargin"/>) and the output at the call's <c>MaxOutputTokens</c>, capped by
/// <see cref="BudgetOptions.MaxOutputTokensCeiling"/>. A reservation that is never settled (its process died) lapses
/// after <see cref="BudgetOptions.ReservationTimeout"/>. A call whose model has no price reserves nothing.
/// </para>
/// <para>This type is thread-safe: any number of calls may run through it at once.</para>
/// </remarks>
public sealed class BudgetChatClient : DelegatingChatClient
{
    private const string StageName = "budget";
    private const string ExceededCode = "budget_exceeded";
    private const string ExhaustedCode = "budget_exhausted";

    /// <summary>The key under which a refusal's <c>ErrorContent</c> carries the <see cref="BudgetStatus"/> of the budget that refused.</summary>
    public const string StatusProperty = "costaware.budget.status";

    private readonly IBudgetStore _store;
    private readonly CallPricer _pricer;
    private readonly ITokenEstimator _estimator;
    private readonly ICostLedger? _ledger;
    private readonly TimeProvider _timeProvider;
    private readonly ILogger _logger;
    private readonly CostAwareMetrics _metrics;
    private BudgetConfiguration _configuration;
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
    }

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
    public override async Task<ChatResponse> GetResponseAsync(
        IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(messages);
        BudgetCall? call = Plan(messages, options);
        if (call is null)
        {
            return await base.GetResponseAsync(messages, options, cancellationToken);
        }

        Admission admission = await AdmitAsync(call, cancellationToken);
        if (admission.Refusal is { } refusal)
        {
            throw refusal;
        }

        ChatOptions forwarded = Forward(call, options, admission);
        ChatResponse? response = null;
        try
        {
            response = await base.GetResponseAsync(messages, forwarded, cancellationToken);
            return response;
        }
        finally
        {
            // On success, failure and cancellation alike: what the inner stages spent is counted, the rest released.
            if (response is not null)
            {
                PriceIfUnmetered(call, messages, forwarded, response.Usage, response.ModelId, response.Text);
                (response.AdditionalProperties ??= [])[CostAwareProperties.Receipt] = call.Receipt;
            }

            await SettleAsync(call, admission, CancellationToken.None);
        }
    }

    /// <inheritdoc />
    public override IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(
        IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(messages);
        BudgetCall? call = Plan(messages, options);
        return call is null ? base.GetStreamingResponseAsync(messages, options, cancellationToken) : StreamAsync(call, messages, options, cancellationToken);
    }

    /// <inheritdoc />
    public override object? GetService(Type serviceType, object? serviceKey = null)
    {
        ArgumentNullException.ThrowIfNull(serviceType);
        return serviceKey is null && serviceType.IsInstanceOfType(this) ? this : base.GetService(serviceType, serviceKey);
    }

    private ChatClientMetadata Metadata => _metadata ??= InnerClient.GetService<ChatClientMetadata>() ?? new ChatClientMetadata();

    private async IAsyncEnumerable<ChatResponseUpdate> StreamAsync(
        BudgetCall call, IEnumerable<ChatMessage> messages, ChatOptions? options, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        Admission admission = await AdmitAsync(call, cancellationToken);
        if (admission.Refusal is { } refusal)
        {
            if (call.Configuration.Options.ThrowOnRefusedStream)
            {
                throw refusal;
            }

            yield return ErrorUpdate(refusal.Message, ExceededCode, admission.RefusedStatus, finishReason: null, receipt: null);
            yield break;
        }

        ChatOptions forwarded = Forward(call, options, admission);
        UsageDetails? usage = null;
        StringBuilder? text = null;
        string? modelId = null;
        string? responseId = null;
        bool started = false;
        bool receiptSent = false;
        long outputTokens = 0;
        string? stoppedBy = null;
        IAsyncEnumerator<ChatResponseUpdate> updates = base.GetStreamingResponseAsync(messages, forwarded, cancellationToken).GetAsyncEnumerator(cancellationToken);
        try
        {
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
                    if (running > admission.Amount && !admission.Unchecked)
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
            await updates.DisposeAsync();
            if (started)
            {
                PriceIfUnmetered(call, messages, forwarded, usage, modelId, text?.ToString());
            }

            await SettleAsync(call, admission, CancellationToken.None);
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
            error.AdditionalProperties = new() { [StatusProperty] = status };
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

        CostScope scope = options.ResolveCostScope();
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

        CostReceipt receipt = CacheSettlement.ResolveReceipt(options, _timeProvider, out bool owned);
        string? modelId = options?.ModelId ?? Metadata.DefaultModelId;
        long input = _estimator.EstimateInputTokens(messages, options, modelId);
        long inputWithMargin = (long)Math.Ceiling(input * (1 + configuration.Options.InputEstimateMargin));
        int ceiling = configuration.Options.MaxOutputTokensCeiling;
        int output = options?.MaxOutputTokens is int asked && asked > 0 ? Math.Min(asked, ceiling) : ceiling;
        return new BudgetCall(configuration, scope, budgets, lines, periods, receipt, owned, receipt.Entries.Length, modelId, inputWithMargin, output, Guid.NewGuid().ToString("N"))
        {
            Deferral = options.GetDeferral(),
        };
    }

    // Reserves the call's worst case in every budget at once; when a budget refuses, tries the degrade its Action asks
    // for (each at most once) and reserves again. Returns the admission, or the refusal to throw.
    private async ValueTask<Admission> AdmitAsync(BudgetCall call, CancellationToken cancellationToken)
    {
        string? modelId = call.ModelId;
        ModelPrice? price = PriceOf(modelId);
        int output = call.OutputTokens;
        bool batch = call.Deferral is not null;
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
                    Log.BudgetStoreFailedOpen(_logger, ex);
                    _metrics.RecordBudgetStoreFailure("reserve", "fail_open");
                    return new Admission(amount, modelId, price, output, batch, deferral, isUnchecked: true, refusal: null, refusedStatus: null);
                }

                Log.BudgetStoreFailedClosed(_logger, ex);
                _metrics.RecordBudgetStoreFailure("reserve", "fail_closed");
                throw new BudgetStoreUnavailableException(
                    "The budget store could not be reached, so the call was refused (BudgetOptions.StoreFailureMode is FailClosed; set FailOpen to let calls through unchecked while it is down).", ex);
            }

            if (result.Admitted)
            {
                if (result.OverMask != 0)
                {
                    // Rare (a soft limit passed): the budgets' state is read back for the event.
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
                        if ((result.OverMask & (1L << i)) != 0)
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

                return new Admission(amount, modelId, price, output, batch, deferral, isUnchecked: false, refusal: null, refusedStatus: null);
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

                    case BudgetAction.SwitchModel when !string.Equals(budget.FallbackModelId, modelId, StringComparison.OrdinalIgnoreCase):
                        modelId = budget.FallbackModelId;
                        price = PriceOf(modelId);
                        degraded = true;
                        break;
                    case BudgetAction.Defer when !batch:
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

            Log.BudgetRefused(_logger, budget.Name, budget.Window, status.Limit, status.Spent, status.Reserved, BudgetMoney.ToCurrency(amount), status.Calls);
            _metrics.RecordBudgetExceeded(budget.Name, "refuse");
            (exceeded ??= []).Add((budget, status, BudgetAction.Refuse));
            await RaiseExceededAsync(call, exceeded, requested, cancellationToken);
            BudgetExceededException refusal = new(
                budget.Name, status.ScopeKey, budget.Window, status.ResetsAt, status.Limit, status.Spent, status.Reserved, BudgetMoney.ToCurrency(amount), status.MaxCalls, status.Calls);
            return new Admission(amount, modelId, price, output, batch, deferral, isUnchecked: false, refusal, status);
        }
    }

    // Asks for room for a stream that runs past its reservation; returns the budget that has none, or null.
    private async ValueTask<string?> TopUpAsync(BudgetCall call, Admission admission, long running, CancellationToken cancellationToken)
    {
        long extra = Math.Max(running - admission.Amount, admission.Amount / 4);
        try
        {
            BudgetReserveResult result = await _store.ReserveAsync(
                call.Lines, call.ReservationId, extra, countCall: false, _timeProvider.GetUtcNow().ToUnixTimeMilliseconds(), call.Configuration.ReservationTimeoutMs, cancellationToken);
            if (result.Admitted)
            {
                admission.Amount += extra;
                return null;
            }

            return call.Budgets[result.RefusedLine].Name;
        }
        catch (Exception ex) when (ex is not OperationCanceledException && call.Configuration.Options.StoreFailureMode == BudgetStoreFailureMode.FailOpen)
        {
            Log.BudgetStoreFailedOpen(_logger, ex);
            _metrics.RecordBudgetStoreFailure("reserve", "fail_open");
            admission.Amount += extra;
            return null;
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            Log.BudgetStoreFailedClosed(_logger, ex);
            _metrics.RecordBudgetStoreFailure("reserve", "fail_closed");
            return call.Budgets[0].Name;
        }
    }

    private async ValueTask SettleAsync(BudgetCall call, Admission admission, CancellationToken cancellationToken)
    {
        decimal spent = 0m;
        var entries = call.Receipt.Entries;
        for (int i = call.FirstEntry; i < entries.Length; i++)
        {
            spent += entries[i].Cost?.Total ?? 0m;
        }

        long actual = BudgetMoney.ToUnitsCeiling(spent);
        if (actual > admission.Amount && admission.Price is not null)
        {
            Log.BudgetOverrun(_logger, admission.ModelId, spent, BudgetMoney.ToCurrency(admission.Amount));
        }

        if (!admission.Unchecked)
        {
            long[] windowSpent = new long[call.Lines.Length];
            bool settled = false;
            try
            {
                await _store.SettleAsync(call.Lines, call.ReservationId, actual, _timeProvider.GetUtcNow().ToUnixTimeMilliseconds(), windowSpent, cancellationToken);
                settled = true;
            }
            catch (Exception ex)
            {
                Log.BudgetSettleFailed(_logger, spent, ex);
                _metrics.RecordBudgetStoreFailure("settle", call.Configuration.Options.StoreFailureMode == BudgetStoreFailureMode.FailOpen ? "fail_open" : "fail_closed");
            }

            if (settled && actual > 0)
            {
                await RaiseThresholdsAsync(call, actual, windowSpent);
            }
        }

        if (call.Owned && call.Configuration.Options.RecordToLedger && _ledger is not null && call.Receipt.Entries.Length > 0)
        {
            await LedgerRecording.RecordAsync(_ledger, call.Receipt, _logger);
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

    // The options the inner stages see: the caller's, with the receipt and scope made explicit and the admission's
    // changes applied (a clamped or ceiling-limited output, a cheaper model, a deferral).
    private ChatOptions Forward(BudgetCall call, ChatOptions? options, Admission admission)
    {
        ChatOptions forwarded = CacheSettlement.ForwardedOptions(options, call.Receipt);
        forwarded.AdditionalProperties![BudgetHeadroom.Property] = new BudgetHeadroom(ct => HeadroomAsync(call, ct));
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
            CostEntryKind.ProviderCall, modelId, Metadata.ProviderName, tokens, estimated, forwarded.GetDeferral() is not null, _timeProvider.GetUtcNow(), StageName, mayThrow: false));
    }

    private ModelPrice? PriceOf(string? modelId)
    {
        if (modelId is not null && _pricer.Catalog.TryGetPrice(modelId, out ModelPrice? price))
        {
            return price;
        }

        if (_pricer.Catalog.UnknownModelPolicy == UnknownModelPolicy.UseDefaultPrice && _pricer.Catalog.DefaultPrice is { } fallback)
        {
            return fallback;
        }

        Log.BudgetUnpriced(_logger, modelId);
        return null;
    }

    private static long Estimate(ModelPrice? price, long inputTokens, long outputTokens, bool batch) =>
        price is null ? 0 : BudgetMoney.ToUnitsCeiling(price.CalculateCost(new TokenCounts { Input = inputTokens, Output = outputTokens }, batch).Total);

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
        CostReceipt Receipt,
        bool Owned,
        int FirstEntry,
        string? ModelId,
        long InputTokens,
        int OutputTokens,
        string ReservationId)
    {
        public Deferral? Deferral { get; init; }
    }

    private sealed class Admission(
        long amount, string? modelId, ModelPrice? price, int outputTokens, bool batch, Deferral? deferral, bool isUnchecked, BudgetExceededException? refusal, BudgetStatus? refusedStatus)
    {
        public long Amount { get; set; } = amount;

        public string? ModelId { get; } = modelId;

        public ModelPrice? Price { get; } = price;

        public int OutputTokens { get; } = outputTokens;

        public bool Batch { get; } = batch;

        public Deferral? Deferral { get; } = deferral;

        public bool Unchecked { get; } = isUnchecked;

        public BudgetExceededException? Refusal { get; } = refusal;

        public BudgetStatus? RefusedStatus { get; } = refusedStatus;
    }
}

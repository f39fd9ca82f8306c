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
    private readonly TimeProvider _timeProvider;
    private readonly ILogger _logger;
    private readonly CostAwareMetrics _metrics;
    private readonly SettlementOutbox _outbox;
    private readonly BudgetAdmitter _admitter;
    private readonly BudgetSettler _settler;
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
        _timeProvider = timeProvider ?? TimeProvider.System;
        _store = store ?? new InMemoryBudgetStore();
        _metrics = metrics ?? CostAwareMetrics.Shared;
        _outbox = new SettlementOutbox(_store, _timeProvider, _logger, _metrics);
        BudgetEvents events = new(_logger, _metrics);
        _admitter = new BudgetAdmitter(_store, _outbox, _pricer, _estimator, _timeProvider, _logger, _metrics, events);
        _settler = new BudgetSettler(_outbox, ledger, _timeProvider, _logger, events);
        if (innerClient.GetService(typeof(TokenMeteringChatClient)) is null)
        {
            Log.BudgetUnmetered(_logger);
        }
    }

    // Settlements the store has not acknowledged yet (it was unreachable); they are retried until it does.
    internal int PendingSettlements => _outbox.PendingCount;

    // Calls whose settlement waits for work that outlived its caller (a shared cache miss still running).
    internal int DeferredSettlements => _settler.DeferredSettlements;

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
            statuses[i] = budgets[i].Status(scope, lines[i], periods[i], states[i]);
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

        BudgetAdmission admission = await _admitter.AdmitOrCloseAsync(call, cancellationToken);
        if (admission.Refusal is { } refusal && !admission.CacheOnly)
        {
            BudgetAdmitter.CloseIfOwned(call);
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
                PriceIfUnmetered(call, messages, forwarded!, response.Usage, response.ModelId, response.Text, CallPricer.ReportedCost(response.AdditionalProperties));
                (response.AdditionalProperties ??= [])[CostAwareProperties.Receipt] = call.Receipt;
            }

            await _settler.FinishAsync(call, admission);
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
        BudgetAdmission admission = await _admitter.AdmitOrCloseAsync(call, cancellationToken);
        if (admission.Refusal is { } refusal && !admission.CacheOnly)
        {
            BudgetAdmitter.CloseIfOwned(call);
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
        object? reported = null;
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
                if (update.AdditionalProperties is not null)
                {
                    receiptSent |= ReferenceEquals(update.GetCostReceipt(), call.Receipt);
                    reported ??= CallPricer.ReportedCost(update.AdditionalProperties);
                }

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
                    long running = BudgetAdmitter.Estimate(admission.Price, call.InputTokens, outputTokens, admission.Batch);
                    if (running > admission.Amount && !admission.Unchecked && !admission.CacheOnly)
                    {
                        stoppedBy = await _admitter.TopUpAsync(call, admission, running, cancellationToken);
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
                PriceIfUnmetered(call, messages, forwarded!, usage, modelId, text?.ToString(), reported);
            }

            await _settler.FinishAsync(call, admission);
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
        ModelPrice? price = _admitter.PriceOf(modelId);
        long input = _estimator.EstimateInputTokens(messages, options, modelId);
        long inputWithMargin = BudgetAdmitter.WithMargin(input, configuration);
        int output = BudgetAdmitter.OutputLimit(options?.MaxOutputTokens, price, configuration);
        CostCallContext context = outer ?? CostCallContext.FindOrOpen(options, _timeProvider, out _);
        return new BudgetCall(
            configuration, scope, budgets, lines, periods, context, Owned: outer is null, context.Receipt.Entries.Length, messages, modelId, price, inputWithMargin, output, Guid.NewGuid().ToString("N"))
        {
            Deferral = options.GetDeferral(),
        };
    }


    // The options the inner stages see: the caller's, with the call's context (and this budget's hold on it) and the
    // admission's changes applied (a clamped or ceiling-limited output, a cheaper model, a deferral).
    private ChatOptions Forward(BudgetCall call, ChatOptions? options, BudgetAdmission admission)
    {
        call.Context.AddBudget(new BudgetHold(_admitter, call, admission));
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


    // Without a metering stage inside, nothing put the call on the receipt: it is priced here, from the reported usage
    // or, failing that, from estimated tokens.
    private void PriceIfUnmetered(
        BudgetCall call, IEnumerable<ChatMessage> messages, ChatOptions forwarded, UsageDetails? usage, string? responseModel, string? text, object? reportedCost)
    {
        if (call.Receipt.Entries.Length > call.FirstEntry)
        {
            return;
        }

        string? modelId = responseModel ?? forwarded.ModelId ?? call.ModelId;
        bool estimated = UsageReader.ReadOrEstimate(usage, _estimator, messages, forwarded, modelId, text, out TokenCounts tokens, out _);
        call.Receipt.Add(CallPricer.WithReportedCost(
            _pricer.Price(CostEntryKind.ProviderCall, modelId, Metadata.ProviderName, tokens, estimated, batch: false, _timeProvider.GetUtcNow(), StageName, mayThrow: false),
            _pricer.ReadReportedCost(reportedCost, modelId)));
    }
}

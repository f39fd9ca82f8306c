using CostAware.Shared;
using Microsoft.Extensions.Logging;

namespace CostAware.Internal;

// Admission against the budget store: reserving a call's worst case in every budget at once, the degrades a refusing
// budget's action asks for, top-ups for further provider calls and streams that run long, and the refusals.
internal sealed class BudgetAdmitter(
    IBudgetStore store,
    SettlementOutbox outbox,
    CallPricer pricer,
    ITokenEstimator estimator,
    TimeProvider timeProvider,
    ILogger logger,
    CostAwareMetrics metrics,
    BudgetEvents events)
{
    private readonly IBudgetStore _store = store;
    private readonly SettlementOutbox _outbox = outbox;
    private readonly CallPricer _pricer = pricer;
    private readonly ITokenEstimator _estimator = estimator;
    private readonly TimeProvider _timeProvider = timeProvider;
    private readonly ILogger _logger = logger;
    private readonly CostAwareMetrics _metrics = metrics;
    private readonly BudgetEvents _events = events;

    public ITokenEstimator Estimator => _estimator;

    public static long WithMargin(long input, BudgetConfiguration configuration) => (long)Math.Ceiling(input * (1 + configuration.Options.InputEstimateMargin));

    // The output a call may produce, and is reserved for: what it asks, capped by the ceiling and by the model's own
    // output limit from the catalog (so a model with a lower limit is never sent, nor reserved for, more).
    public static int OutputLimit(int? asked, ModelPrice? price, BudgetConfiguration configuration)
    {
        int limit = configuration.Options.MaxOutputTokensCeiling;
        if (price?.MaxOutputTokens is int modelMax && modelMax < limit)
        {
            limit = modelMax;
        }

        return asked is int a && a > 0 ? Math.Min(a, limit) : limit;
    }

    public async ValueTask<BudgetAdmission> AdmitOrCloseAsync(BudgetCall call, CancellationToken cancellationToken)
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

    public static void CloseIfOwned(BudgetCall call)
    {
        if (call.Owned)
        {
            call.Context.Close();
        }
    }

    // Reserves the call's worst case in every budget at once; when a budget refuses, tries the degrade its Action asks
    // for (each at most once) and reserves again. Returns the admission, or the refusal to throw. A reservation made
    // here is released again if anything after it fails (an event handler that honours cancellation included).
    public async ValueTask<BudgetAdmission> AdmitAsync(BudgetCall call, CancellationToken cancellationToken)
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
                    return new BudgetAdmission(amount, modelId, price, output, batch, deferral, isUnchecked: true, refusal: null, refusedStatus: null);
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
                BudgetAdmission admitted = new(amount, modelId, price, output, batch, deferral, isUnchecked: false, refusal: null, refusedStatus: null);
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
            BudgetStatus status = call.Status(line, result.State);
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
                await _events.RaiseExceededAsync(call, exceeded, requested, cancellationToken);
                return new BudgetAdmission(0, modelId, price, output, batch, deferral, isUnchecked: false, refusal, status) { CacheOnly = true };
            }

            Log.BudgetRefused(_logger, budget.Name, budget.Window, status.Limit, status.Spent, status.Reserved, BudgetMoney.ToCurrency(amount), status.Calls);
            _metrics.RecordBudgetExceeded(budget.Name, "refuse");
            (exceeded ??= []).Add((budget, status, BudgetAction.Refuse));
            await _events.RaiseExceededAsync(call, exceeded, requested, cancellationToken);
            return new BudgetAdmission(amount, modelId, price, output, batch, deferral, isUnchecked: false, refusal, status);
        }
    }

    // A soft limit passed (the Allow action) or a degrade was chosen: the budgets' state is read back for the events.
    public async ValueTask ReportAllowedOverAsync(
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
                    (exceeded ??= []).Add((call.Budgets[i], call.Status(i, states[i]), BudgetAction.Allow));
                }
            }
        }

        if (exceeded is not null)
        {
            await _events.RaiseExceededAsync(call, exceeded, requested, cancellationToken);
        }
    }

    public async ValueTask ReleaseAsync(BudgetCall call)
    {
        _ = await _outbox.SettleAsync(call.Lines, call.ReservationId, 0, _timeProvider.GetUtcNow().ToUnixTimeMilliseconds(), new long[call.Lines.Length]);
    }

    public void ThrowIfUnpricedRefused(BudgetCall call, string? modelId)
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
    public async ValueTask<string?> TopUpAsync(BudgetCall call, BudgetAdmission admission, long running, CancellationToken cancellationToken)
    {
        long extra = Math.Max(running - admission.Amount, admission.Amount / 4);
        (int line, _) = await ReserveMoreAsync(call, admission, extra, cancellationToken);
        return line == Reserved ? null : call.Budgets[Math.Max(line, 0)].Name;
    }

    public const int Reserved = -1;
    public const int StoreDown = -2;

    // Reserves more for a call already admitted, under the same reservation. Returns Reserved (the amount was added to
    // the admission, or let through because the store is down and StoreFailureMode is FailOpen), StoreDown (the store
    // is down and FailClosed), or the line that refused with its state.
    public async ValueTask<(int Line, BudgetCounterState State)> ReserveMoreAsync(BudgetCall call, BudgetAdmission admission, long extra, CancellationToken cancellationToken)
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

    public async ValueTask<decimal?> HeadroomAsync(BudgetCall call, CancellationToken cancellationToken)
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

    public ModelPrice? PriceOf(string? modelId)
    {
        if (modelId is not null && _pricer.Catalog.TryGetPrice(modelId, out ModelPrice? price))
        {
            return price;
        }

        return _pricer.Catalog.UnknownModelPolicy == UnknownModelPolicy.UseDefaultPrice ? _pricer.Catalog.DefaultPrice : null;
    }

    // The most a call can cost: every input token at the dearest input class (a cache write can cost twice the input
    // price), every output token at the dearer of output and reasoning.
    public static long Estimate(ModelPrice? price, long inputTokens, long outputTokens, bool batch) =>
        price is null ? 0 : BudgetMoney.ToUnitsCeiling(price.CalculateWorstCaseCost(inputTokens, outputTokens, batch));

    private static string ActionName(BudgetAction action) => action switch
    {
        BudgetAction.ClampOutput => "clamp_output",
        BudgetAction.SwitchModel => "switch_model",
        BudgetAction.Defer => "defer",
        BudgetAction.Allow => "allow",
        _ => "refuse",
    };

    public BudgetExceededException CopyRefusal(BudgetAdmission admission)
    {
        BudgetExceededException refusal = admission.Refusal!;
        _metrics.RecordBudgetExceeded(refusal.BudgetName, "refuse");
        return new BudgetExceededException(
            refusal.BudgetName, refusal.ScopeKey, refusal.Window, refusal.ResetsAt, refusal.Limit, refusal.Spent, refusal.Reserved, refusal.Requested, refusal.MaxCalls, refusal.Calls);
    }

    public BudgetExceededException Refuse(BudgetCall call, int line, BudgetCounterState state, long requested)
    {
        CompiledBudget budget = call.Budgets[line];
        BudgetStatus status = call.Status(line, state);
        Log.BudgetRefused(_logger, budget.Name, budget.Window, status.Limit, status.Spent, status.Reserved, BudgetMoney.ToCurrency(requested), status.Calls);
        _metrics.RecordBudgetExceeded(budget.Name, "refuse");
        return new BudgetExceededException(
            budget.Name, status.ScopeKey, budget.Window, status.ResetsAt, status.Limit, status.Spent, status.Reserved, BudgetMoney.ToCurrency(requested), status.MaxCalls, status.Calls);
    }
}

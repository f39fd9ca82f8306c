using CostAware.Shared;
using Microsoft.Extensions.Logging;

namespace CostAware.Internal;

// Settlement: a call's reservation becomes what its receipt says it cost, once no work charges the receipt any more,
// through the outbox that retries a store that cannot take it; the thresholds it crosses are raised, and the receipt of a
// call the stage opened is recorded.
internal sealed class BudgetSettler(SettlementOutbox outbox, ICostLedger? ledger, TimeProvider timeProvider, ILogger logger, BudgetEvents events)
{
    private readonly SettlementOutbox _outbox = outbox;
    private readonly ICostLedger? _ledger = ledger;
    private readonly TimeProvider _timeProvider = timeProvider;
    private readonly ILogger _logger = logger;
    private readonly BudgetEvents _events = events;
    private int _deferredSettlements;

    // Calls whose settlement waits for work that outlived its caller (a shared cache miss still running).
    public int DeferredSettlements => Volatile.Read(ref _deferredSettlements);

    // The call is over for its caller. Its reservation is settled once no work charges its receipt any more: at once,
    // or, when the caller left while work still runs (a shared cache miss another caller waits for), when that work ends.
    public ValueTask FinishAsync(BudgetCall call, BudgetAdmission admission)
    {
        if (!call.Context.HasPendingWork)
        {
            return SettleAsync(call, admission);
        }

        _ = Interlocked.Increment(ref _deferredSettlements);
        _ = SettleWhenIdleAsync(call, admission);
        return ValueTask.CompletedTask;
    }

    public async Task SettleWhenIdleAsync(BudgetCall call, BudgetAdmission admission)
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

    public async ValueTask SettleAsync(BudgetCall call, BudgetAdmission admission)
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
            await _events.RaiseThresholdsAsync(call, actual, windowSpent);
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
}

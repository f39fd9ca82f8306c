using CostAware.Shared;
using Microsoft.Extensions.AI;

namespace CostAware.Internal;

// This budget's hold on one call, offered to the inner stages through the call's context: the money left, and room
// for each real provider call before it is made. The first provider call normally fits in what was reserved at
// admission; a further one (a cascade tier, a judge, a retry, a deferred call sent synchronously) tops the
// reservation up first, or is refused before it is paid for.
internal sealed class BudgetHold(BudgetAdmitter admitter, BudgetCall call, BudgetAdmission admission) : ICostCallBudget
{
    private readonly Lock _gate = new();
    private long _inFlight;
    private long _claimed;

    public bool IsCacheOnly => admission.CacheOnly;

    public ValueTask<decimal?> GetRemainingAsync(CancellationToken cancellationToken) => admitter.HeadroomAsync(call, cancellationToken);

    public async ValueTask<IDisposable> AdmitProviderCallAsync(
        CostCallContext context, IEnumerable<ChatMessage> messages, ChatOptions? options, string? modelId, bool batch, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(messages);
        MessageChecks.ThrowIfInvalid(messages, nameof(messages));
        if (admission.CacheOnly)
        {
            throw admitter.CopyRefusal(admission);
        }

        if (admission.IsSettled)
        {
            throw new InvalidOperationException("The call was already settled with its budgets; a stage that makes provider calls after its caller returned must register them with CostCallContext.BeginWork.");
        }

        modelId ??= call.ModelId;
        ModelPrice? price = admitter.PriceOf(modelId);
        if (price is null)
        {
            admitter.ThrowIfUnpricedRefused(call, modelId);
            return Lease.None;
        }

        if (admission.Unchecked)
        {
            return Lease.None;
        }

        long input = ReferenceEquals(messages, call.Messages)
            ? call.InputTokens
            : BudgetAdmitter.WithMargin(admitter.Estimator.EstimateInputTokens(messages, options, modelId), call.Configuration);
        int output = options?.MaxOutputTokens is int asked && asked > 0
            ? asked
            : price.MaxOutputTokens ?? call.Configuration.Options.MaxOutputTokensCeiling;
        long worst = BudgetAdmitter.Estimate(price, input, output, batch);
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
                result = await admitter.ReserveMoreAsync(call, admission, extra, cancellationToken);
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

            if (result.line != BudgetAdmitter.Reserved)
            {
                Undo(worst, extra: 0);
                throw result.line == BudgetAdmitter.StoreDown
                    ? new BudgetStoreUnavailableException("The budget store could not be reached, so a further provider call of this request was refused (BudgetOptions.StoreFailureMode is FailClosed).")
                    : admitter.Refuse(call, result.line, result.state, extra);
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

    private sealed class Lease(BudgetHold? hold, long worst) : IDisposable
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

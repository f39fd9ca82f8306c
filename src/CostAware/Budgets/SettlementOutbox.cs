using CostAware.Shared;
using Microsoft.Extensions.Logging;

namespace CostAware.Internal;

// Settlements the budget store has not acknowledged. Money that was spent must reach the counters, or the budget
// under-counts it for good once the reservation lapses; so a settlement (or the release of a reservation whose reserve
// may have reached the store before it failed) that fails is kept here and retried, with backoff, until the store
// acknowledges it. Stores make a settlement idempotent by its reservation id, so a retry of one that was applied but
// not acknowledged is not counted twice. The outbox lives in memory: a process killed with settlements pending loses
// them, and their reservations lapse after ReservationTimeout (docs/budgets.md says so).
internal sealed class SettlementOutbox : IDisposable
{
    private static readonly TimeSpan FirstDelay = TimeSpan.FromMilliseconds(100);
    private static readonly TimeSpan MaxDelay = TimeSpan.FromSeconds(5);

    private readonly IBudgetStore _store;
    private readonly TimeProvider _timeProvider;
    private readonly ILogger _logger;
    private readonly CostAwareMetrics _metrics;
    private readonly Queue<Pending> _pending = new();
    private readonly Lock _gate = new();
    private readonly CancellationTokenSource _stopping = new();
    private bool _retrying;
    private TaskCompletionSource? _drained;

    public SettlementOutbox(IBudgetStore store, TimeProvider timeProvider, ILogger logger, CostAwareMetrics metrics)
    {
        _store = store;
        _timeProvider = timeProvider;
        _logger = logger;
        _metrics = metrics;
    }

    public int PendingCount
    {
        get
        {
            lock (_gate)
            {
                return _pending.Count;
            }
        }
    }

    // Settles now, or keeps the settlement for retry. Returns true when the store acknowledged it now (windowSpent is
    // then filled in); false when it is pending.
    public async ValueTask<bool> SettleAsync(BudgetLine[] lines, string reservationId, long actual, long nowMs, long[] windowSpent)
    {
        lock (_gate)
        {
            if (_pending.Count > 0)
            {
                // Keep the order: an earlier settlement is still waiting for the store.
                Enqueue(new Pending(lines, reservationId, actual), exception: null);
                return false;
            }
        }

        try
        {
            await _store.SettleAsync(lines, reservationId, actual, nowMs, windowSpent, CancellationToken.None).ConfigureAwait(false);
            return true;
        }
        catch (Exception ex)
        {
            lock (_gate)
            {
                Enqueue(new Pending(lines, reservationId, actual), ex);
            }

            return false;
        }
    }

    // A reserve that failed may still have reached the store: its reservation is released (settled at zero) as soon as
    // the store answers, rather than pinning the budget until it lapses.
    public void Release(BudgetLine[] lines, string reservationId)
    {
        lock (_gate)
        {
            Enqueue(new Pending(lines, reservationId, 0), exception: null);
        }
    }

    // Completes when nothing is pending (or the token is cancelled).
    public Task DrainAsync(CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            if (_pending.Count == 0)
            {
                return Task.CompletedTask;
            }

            _drained ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            return _drained.Task.WaitAsync(cancellationToken);
        }
    }

    public void Dispose()
    {
        _stopping.Cancel();
        _stopping.Dispose();
    }

    // Called under the lock.
    private void Enqueue(Pending pending, Exception? exception)
    {
        _pending.Enqueue(pending);
        _metrics.RecordPendingSettlements(1);
        if (exception is not null)
        {
            Log.BudgetSettleFailed(_logger, BudgetMoney.ToCurrency(pending.Actual), _pending.Count, exception);
            _metrics.RecordBudgetStoreFailure("settle", "retried");
        }

        if (!_retrying)
        {
            _retrying = true;
            _ = RetryAsync();
        }
    }

    private async Task RetryAsync()
    {
        TimeSpan delay = FirstDelay;
        int applied = 0;
        CancellationToken stopping;
        try
        {
            stopping = _stopping.Token;
        }
        catch (ObjectDisposedException)
        {
            return;
        }

        // Off the caller's thread: the first retry happens at once, later ones after a growing delay.
        await Task.Yield();

        while (!stopping.IsCancellationRequested)
        {
            Pending next;
            lock (_gate)
            {
                if (!_pending.TryPeek(out next))
                {
                    _retrying = false;
                    TaskCompletionSource? drained = _drained;
                    _drained = null;
                    drained?.TrySetResult();
                    break;
                }
            }

            try
            {
                await _store.SettleAsync(
                    next.Lines, next.ReservationId, next.Actual, _timeProvider.GetUtcNow().ToUnixTimeMilliseconds(), new long[next.Lines.Length], stopping).ConfigureAwait(false);
                lock (_gate)
                {
                    _ = _pending.Dequeue();
                }

                _metrics.RecordPendingSettlements(-1);
                applied++;
                delay = FirstDelay;
                continue;
            }
            catch (Exception) when (!stopping.IsCancellationRequested)
            {
                // Still down: wait, longer each time, and try the oldest again.
            }
            catch (OperationCanceledException)
            {
                break;
            }

            try
            {
                await Task.Delay(delay, _timeProvider, stopping).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                break;
            }

            delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, MaxDelay.Ticks));
        }

        if (applied > 0)
        {
            Log.BudgetSettleRetried(_logger, applied);
        }
    }

    private readonly record struct Pending(BudgetLine[] Lines, string ReservationId, long Actual);
}

using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace CostAware.Batching.Internal;

// The hosted loop: a scheduler pass every PollInterval (at most every second), for as long as the app runs. A pass
// that fails is retried, since every step of a call is recorded before the next; passes that keep failing (a corrupt
// queue file, a store that is down) back off to one a minute, and the same failure is logged once, not every second.
internal sealed class BatchScheduler(DeferralCoordinator coordinator, TimeProvider timeProvider, ILogger logger) : BackgroundService
{
    private static readonly TimeSpan MaxBackoff = TimeSpan.FromMinutes(1);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        TimeSpan tick = coordinator.Options.PollInterval < TimeSpan.FromSeconds(1) ? coordinator.Options.PollInterval : TimeSpan.FromSeconds(1);
        TimeSpan wait = tick;
        string? lastFailure = null;
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await coordinator.RunOnceAsync(stoppingToken).ConfigureAwait(false);
                if (lastFailure is not null)
                {
                    Log.SchedulerRecovered(logger);
                }

                lastFailure = null;
                wait = tick;
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                if (!string.Equals(lastFailure, ex.Message, StringComparison.Ordinal))
                {
                    Log.SchedulerFailed(logger, ex);
                    lastFailure = ex.Message;
                }

                wait = TimeSpan.FromTicks(Math.Min(wait.Ticks * 2, MaxBackoff.Ticks));
            }

            try
            {
                await Task.Delay(wait, timeProvider, stoppingToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }
}

using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace CostAware.Internal.Batching;

// The hosted loop: a scheduler pass every PollInterval (at most every second), for as long as the app runs. A pass
// that fails is logged; the next one retries, since every step of a call is recorded before the next.
internal sealed class BatchScheduler(DeferralCoordinator coordinator, TimeProvider timeProvider, ILogger logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        TimeSpan tick = coordinator.Options.PollInterval < TimeSpan.FromSeconds(1) ? coordinator.Options.PollInterval : TimeSpan.FromSeconds(1);
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await coordinator.RunOnceAsync(stoppingToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                Log.SchedulerFailed(logger, ex);
            }

            try
            {
                await Task.Delay(tick, timeProvider, stoppingToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }
}

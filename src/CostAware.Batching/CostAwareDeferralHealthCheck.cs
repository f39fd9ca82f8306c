using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using CostAware.Batching.Internal;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace CostAware;

/// <summary>
/// Checks the batch-deferral backlog: unhealthy when queued calls are not being submitted (a call waited past the
/// longest its options allow, or past the moment its deadline required it to be sent), degraded when a submitted
/// batch is older than <see cref="BatchDeferralOptions.ExpectedBatchLatency"/> (the provider is late).
/// </summary>
/// <remarks>
/// Register it with <c>services.AddHealthChecks().AddCheck&lt;CostAwareDeferralHealthCheck&gt;("costaware-deferrals")</c>
/// after <c>AddCostAwareBatching</c>. A process that has not opened its queue (nothing deferred yet) is healthy.
/// </remarks>
/// <param name="services">The app's services.</param>
[SuppressMessage("Usage", "CAEXP001", Justification = "The queue is CostAware's own extension point.")]
public sealed class CostAwareDeferralHealthCheck(IServiceProvider services) : IHealthCheck
{
    /// <inheritdoc />
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(context);
        if (services.GetService<DeferralCoordinator>() is not { } coordinator)
        {
            return new HealthCheckResult(context.Registration.FailureStatus, "Batch deferral is not registered (AddCostAwareBatching).");
        }

        (IReadOnlyList<QueuedGroup> Queued, IReadOnlyList<OpenBatch> Open)? backlog;
        try
        {
            backlog = await coordinator.BacklogAsync(cancellationToken);
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            return new HealthCheckResult(context.Registration.FailureStatus, "The deferral queue cannot be read.", ex);
        }

        if (backlog is not { } state)
        {
            return HealthCheckResult.Healthy("Nothing was deferred by this process yet (the queue is not open).");
        }

        BatchDeferralOptions options = coordinator.Options;
        DateTimeOffset now = (services.GetService<TimeProvider>() ?? TimeProvider.System).GetUtcNow();
        int queued = state.Queued.Sum(static g => g.Count);
        Dictionary<string, object> data = new() { ["queued"] = queued, ["openBatches"] = state.Open.Count };

        // The scheduler submits a group once its oldest call waited MaxWait (MaxWaitAlone when alone), and a call no later
        // than its deadline minus the expected batch latency; a minute of slack for the scheduler's own pace.
        TimeSpan slack = TimeSpan.FromMinutes(1) + options.PollInterval;
        foreach (QueuedGroup group in state.Queued)
        {
            TimeSpan longest = (group.Count == 1 ? options.MaxWaitAlone : options.MaxWait) + slack;
            if (now - group.Oldest > longest)
            {
                return new HealthCheckResult(context.Registration.FailureStatus, string.Create(CultureInfo.InvariantCulture,
                    $"{group.Count} deferred calls for {group.Provider} {group.Endpoint} have waited since {group.Oldest:u}, longer than the options allow: the scheduler is not submitting them."), data: data);
            }

            if (group.EarliestDeadline is { } deadline && now > deadline - options.ExpectedBatchLatency + slack)
            {
                return new HealthCheckResult(context.Registration.FailureStatus, string.Create(CultureInfo.InvariantCulture,
                    $"A deferred call for {group.Provider} {group.Endpoint} due by {deadline:u} is still queued: it can no longer be answered by a batch in time."), data: data);
            }
        }

        OpenBatch? late = state.Open.Where(b => now - b.CreatedAt > options.ExpectedBatchLatency).Cast<OpenBatch?>().FirstOrDefault();
        return late is { } batch
            ? HealthCheckResult.Degraded(string.Create(CultureInfo.InvariantCulture, $"Batch {batch.Id} ({batch.Provider}) was begun at {batch.CreatedAt:u}, longer ago than the expected batch latency."), data: data)
            : HealthCheckResult.Healthy(string.Create(CultureInfo.InvariantCulture, $"{queued} calls queued, {state.Open.Count} batches open."), data);
    }
}

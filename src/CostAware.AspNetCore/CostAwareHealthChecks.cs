using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace CostAware.AspNetCore.Internal;

// The budget store answers a read of a probe counter (in memory: always; Redis: a round trip).
[SuppressMessage("Usage", "CAEXP001", Justification = "The budget store is CostAware's own extension point.")]
internal sealed class BudgetStoreHealthCheck(IBudgetStore store, TimeProvider timeProvider) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        long nowMs = timeProvider.GetUtcNow().ToUnixTimeMilliseconds();
        BudgetLine[] probe = [new BudgetLine("costaware:health", ["costaware:health:probe"], -1, -1, Enforce: false, nowMs + 60_000)];
        BudgetCounterState[] states = new BudgetCounterState[1];
        try
        {
            await store.ReadAsync(probe, nowMs, states, cancellationToken);
            return HealthCheckResult.Healthy("The budget store answers.");
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            return new HealthCheckResult(context.Registration.FailureStatus, "The budget store cannot be read: budgets cannot be checked.", ex);
        }
    }
}

// The price catalog is recent enough: its newest price is within the allowed age.
internal sealed class PriceCatalogHealthCheck(IPriceCatalog catalog, TimeProvider timeProvider, TimeSpan maxAge) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        DateOnly? newest = catalog.Models.Max(static m => m.EffectiveDate);
        DateOnly today = DateOnly.FromDateTime(timeProvider.GetUtcNow().UtcDateTime);
        if (newest is not { } date)
        {
            return Task.FromResult(HealthCheckResult.Degraded("The price catalog's prices carry no dates: their age cannot be checked."));
        }

        int age = today.DayNumber - date.DayNumber;
        return Task.FromResult(age <= maxAge.TotalDays
            ? HealthCheckResult.Healthy(string.Create(CultureInfo.InvariantCulture, $"The newest price is from {date:yyyy-MM-dd} ({age} days)."))
            : new HealthCheckResult(
                context.Registration.FailureStatus,
                string.Create(CultureInfo.InvariantCulture, $"The newest price is from {date:yyyy-MM-dd}, {age} days ago (the most allowed is {maxAge.TotalDays:0}): load a newer price file (CostAware:PriceFiles) or update CostAware.")));
    }
}

// The durable ledger: its database answers, its writes succeed, its buffer has room, and it dropped nothing since the
// last check. The in-memory ledger has nothing to check.
internal sealed class LedgerHealthCheck(IServiceProvider services) : IHealthCheck
{
    private long _droppedSeen;

    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        if (services.GetService(typeof(IBufferedCostLedger)) is not IBufferedCostLedger ledger)
        {
            return HealthCheckResult.Healthy("The ledger is in memory (nothing durable to check).");
        }

        Dictionary<string, object> data = new()
        {
            ["buffered"] = ledger.Buffered, ["capacity"] = ledger.Capacity, ["dropped"] = ledger.Dropped,
        };
        try
        {
            await ledger.PingAsync(cancellationToken);
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            return new HealthCheckResult(context.Registration.FailureStatus, "The ledger's database cannot be reached: receipts wait in the buffer.", ex, data);
        }

        long dropped = ledger.Dropped;
        long newlyDropped = dropped - Interlocked.Exchange(ref _droppedSeen, dropped);
        if (newlyDropped > 0)
        {
            return new HealthCheckResult(context.Registration.FailureStatus, string.Create(CultureInfo.InvariantCulture, $"The ledger dropped {newlyDropped} receipts since the last check: its buffer stayed full."), data: data);
        }

        if (ledger.FailingSince is { } since)
        {
            return HealthCheckResult.Degraded(string.Create(CultureInfo.InvariantCulture, $"The ledger's writes have failed since {since:u}; receipts are kept and retried."), data: data);
        }

        return ledger.Buffered * 5 > ledger.Capacity * 4L
            ? HealthCheckResult.Degraded("The ledger's buffer is over 80 % full: the database is slower than the traffic.", data: data)
            : HealthCheckResult.Healthy("The ledger writes.", data);
    }
}

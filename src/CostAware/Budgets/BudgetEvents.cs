using CostAware.Shared;
using Microsoft.Extensions.Logging;

namespace CostAware.Internal;

// The budget stage's events: thresholds crossed after a settlement, and budgets exceeded at admission. A handler that
// fails is logged; it never fails the call.
internal sealed class BudgetEvents(ILogger logger, CostAwareMetrics metrics)
{
    private readonly ILogger _logger = logger;
    private readonly CostAwareMetrics _metrics = metrics;

    public async ValueTask RaiseThresholdsAsync(BudgetCall call, long actual, long[] windowSpent)
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
                    BudgetStatus status = call.Status(i, new BudgetCounterState(after, 0, 0)) with { Reserved = 0m, Calls = 0 };
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

    public async ValueTask RaiseExceededAsync(
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
}

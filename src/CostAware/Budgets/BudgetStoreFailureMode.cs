namespace CostAware;

/// <summary>What the budget stage does when its store (Redis) cannot be reached.</summary>
public enum BudgetStoreFailureMode
{
    /// <summary>Refuse the call with a <see cref="BudgetStoreUnavailableException"/>: no money is spent that the budgets cannot see.</summary>
    FailClosed = 0,

    /// <summary>Let the call through unchecked, with a logged warning and the <c>costaware.budget.store_failures</c> metric.</summary>
    FailOpen = 1,
}

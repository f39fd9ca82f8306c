namespace CostAware;

/// <summary>What the budget stage does with a call that a budget has no room for.</summary>
public enum BudgetAction
{
    /// <summary>Refuse the call with a <see cref="BudgetExceededException"/> before any provider is paid.</summary>
    Refuse = 0,

    /// <summary>
    /// Lower the call's <c>MaxOutputTokens</c> to what the budget still allows (at least
    /// <see cref="BudgetOptions.MinimumOutputTokens"/>); refuse when even that does not fit.
    /// </summary>
    ClampOutput = 1,

    /// <summary>Send the call to <see cref="BudgetDefinition.FallbackModelId"/> when that fits; refuse otherwise.</summary>
    SwitchModel = 2,

    /// <summary>
    /// Mark the call deferrable (<see cref="Deferral"/>) and reserve it at batch prices, for the batch-deferral stage
    /// to send at the discount; refuse when even that does not fit. Needs <c>UseBatchDeferral()</c> inside this stage.
    /// </summary>
    Defer = 3,

    /// <summary>Let the call through and report it (event, log, metric): a soft limit.</summary>
    Allow = 4,
}

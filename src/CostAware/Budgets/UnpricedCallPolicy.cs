namespace CostAware;

/// <summary>What the budget stage does with a call whose model has no price in the catalog.</summary>
public enum UnpricedCallPolicy
{
    /// <summary>
    /// Refuse it with an <see cref="UnknownModelPriceException"/> before the provider is asked: a budget cannot bound a
    /// call it cannot price. Add the model to the catalog, or map a deployment name to a priced model with
    /// <c>CostAware:ModelAliases</c>.
    /// </summary>
    Refuse = 0,

    /// <summary>
    /// Let it through with nothing reserved (logged and counted in <c>costaware.budget.unpriced</c>); the budgets count
    /// what its receipt says it cost, which is nothing when the answer names no priced model either.
    /// </summary>
    Allow = 1,
}

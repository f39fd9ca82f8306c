namespace CostAware.Internal.Budgets;

// What the budgets of a call in flight still allow, asked for lazily by an inner stage (the cascade, before it
// escalates): the least room left across the call's money budgets, after what calls in flight (this one included)
// have reserved. One store read, and only when asked.
internal sealed class BudgetHeadroom(Func<CancellationToken, ValueTask<decimal?>> read)
{
    public const string Property = "costaware.budget.headroom";

    public ValueTask<decimal?> RemainingAsync(CancellationToken cancellationToken) => read(cancellationToken);
}

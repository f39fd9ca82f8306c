namespace CostAware.Internal;

// One immutable generation of the stage's options, swapped whole when the configuration reloads.
internal sealed class BudgetConfiguration
{
    public BudgetConfiguration(BudgetOptions options)
    {
        Options = options;
        Budgets = new CompiledBudget[options.Budgets.Count];
        int i = 0;
        foreach (KeyValuePair<string, BudgetDefinition> pair in options.Budgets.OrderBy(static p => p.Key, StringComparer.Ordinal))
        {
            Budgets[i++] = new CompiledBudget(pair.Key, pair.Value);
        }

        ReservationTimeoutMs = (long)options.ReservationTimeout.TotalMilliseconds;
    }

    public BudgetOptions Options { get; }

    public CompiledBudget[] Budgets { get; }

    public long ReservationTimeoutMs { get; }
}

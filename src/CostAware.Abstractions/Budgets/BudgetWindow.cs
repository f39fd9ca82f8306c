namespace CostAware;

/// <summary>The period a budget's limit applies to; spend counted in one period does not carry into the next.</summary>
public enum BudgetWindow
{
    /// <summary>No reset: the limit applies to everything the scope ever spends (a per-run ceiling, a prepaid credit).</summary>
    Lifetime = 0,

    /// <summary>A calendar minute (UTC).</summary>
    Minute = 1,

    /// <summary>A calendar hour in the budget's time zone.</summary>
    Hour = 2,

    /// <summary>A calendar day in the budget's time zone.</summary>
    Day = 3,

    /// <summary>A calendar month in the budget's time zone.</summary>
    Month = 4,

    /// <summary>
    /// The last <c>RollingDuration</c>, counted in ten buckets of a tenth of it: spend leaves the window between one
    /// and 1.1 durations after it was made, never earlier.
    /// </summary>
    Rolling = 5,
}

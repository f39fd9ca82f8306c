namespace CostAware;

/// <summary>One budget's state for one scope in its current window: for dashboards, alerts and the <c>costaware</c> tool.</summary>
/// <remarks>Instances are immutable snapshots.</remarks>
public sealed record class BudgetStatus
{
    /// <summary>Gets the budget's name.</summary>
    public required string BudgetName { get; init; }

    /// <summary>Gets the scope the budget is counted for, as <c>dimension=value</c> pairs joined by commas, or <c>global</c>.</summary>
    public required string ScopeKey { get; init; }

    /// <summary>Gets the budget's window.</summary>
    public BudgetWindow Window { get; init; }

    /// <summary>Gets when the current window began, or <see langword="null"/> for a lifetime budget.</summary>
    public DateTimeOffset? WindowStart { get; init; }

    /// <summary>
    /// Gets when the window resets, or <see langword="null"/> for a lifetime budget. For a rolling window: the next
    /// time spend may leave it.
    /// </summary>
    public DateTimeOffset? ResetsAt { get; init; }

    /// <summary>Gets the money limit, or <see langword="null"/> when only calls are limited.</summary>
    public decimal? Limit { get; init; }

    /// <summary>Gets the settled spend in the window.</summary>
    public decimal Spent { get; init; }

    /// <summary>Gets the worst-case cost of the calls in flight.</summary>
    public decimal Reserved { get; init; }

    /// <summary>Gets what is left for new calls (limit − spent − reserved, never below zero), or <see langword="null"/> without a money limit.</summary>
    public decimal? Remaining => Limit is { } limit ? Math.Max(0m, limit - Spent - Reserved) : null;

    /// <summary>Gets the call limit, or <see langword="null"/> when calls are not limited.</summary>
    public long? MaxCalls { get; init; }

    /// <summary>Gets the calls made in the window.</summary>
    public long Calls { get; init; }
}

namespace CostAware;

/// <summary>Arguments of <see cref="BudgetOptions.OnBudgetExceeded"/>: a budget had no room for a call.</summary>
public readonly struct BudgetExceededArguments
{
    /// <summary>Initializes a new instance of the <see cref="BudgetExceededArguments"/> struct.</summary>
    /// <param name="status">The budget's state when the call was checked.</param>
    /// <param name="requested">The worst-case cost of the call as first asked.</param>
    /// <param name="action">What was done: <see cref="BudgetAction.Refuse"/> when the call was refused (also when a degrade did not fit).</param>
    /// <param name="scope">The call's scope.</param>
    /// <param name="cancellationToken">The call's cancellation token.</param>
    public BudgetExceededArguments(BudgetStatus status, decimal requested, BudgetAction action, CostScope scope, CancellationToken cancellationToken)
    {
        Status = status;
        Requested = requested;
        Action = action;
        Scope = scope;
        CancellationToken = cancellationToken;
    }

    /// <summary>Gets the budget's state when the call was checked.</summary>
    public BudgetStatus Status { get; }

    /// <summary>Gets the worst-case cost of the call as it was first asked.</summary>
    public decimal Requested { get; }

    /// <summary>Gets what was done with the call: refused, clamped, switched, deferred or allowed.</summary>
    public BudgetAction Action { get; }

    /// <summary>Gets the call's scope.</summary>
    public CostScope Scope { get; }

    /// <summary>Gets the call's cancellation token.</summary>
    public CancellationToken CancellationToken { get; }
}

namespace CostAware;

/// <summary>Arguments of <see cref="BudgetOptions.OnThresholdCrossed"/>: a budget's settled spend reached a threshold.</summary>
public readonly struct BudgetThresholdArguments
{
    /// <summary>Initializes a new instance of the <see cref="BudgetThresholdArguments"/> struct.</summary>
    /// <param name="status">The budget's state after the call that crossed the threshold settled.</param>
    /// <param name="threshold">The threshold crossed, as a fraction of the limit.</param>
    /// <param name="scope">The scope of the call that crossed it.</param>
    /// <param name="cancellationToken">The call's cancellation token.</param>
    public BudgetThresholdArguments(BudgetStatus status, double threshold, CostScope scope, CancellationToken cancellationToken)
    {
        Status = status;
        Threshold = threshold;
        Scope = scope;
        CancellationToken = cancellationToken;
    }

    /// <summary>Gets the budget's state after the call that crossed the threshold settled.</summary>
    public BudgetStatus Status { get; }

    /// <summary>Gets the threshold crossed, as a fraction of the limit (0.8 for 80 %).</summary>
    public double Threshold { get; }

    /// <summary>Gets the scope of the call that crossed it.</summary>
    public CostScope Scope { get; }

    /// <summary>Gets the call's cancellation token.</summary>
    public CancellationToken CancellationToken { get; }
}

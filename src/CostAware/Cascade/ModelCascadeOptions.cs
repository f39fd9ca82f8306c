using System.ComponentModel.DataAnnotations;

namespace CostAware;

/// <summary>Options of the <see cref="ModelCascadeChatClient"/> stage.</summary>
/// <remarks>
/// Bound from <c>CostAware:Cascade</c> by <c>AddCostAware</c> (tiers by model id and threshold); scorers, routers and
/// tier clients are set in code through <c>UseModelCascade</c>'s callback. A mutable bag for configuration; the stage
/// copies it when it is built.
/// </remarks>
public sealed class ModelCascadeOptions
{
    /// <summary>Gets or sets the tiers, cheapest first. The last tier's answer is always served.</summary>
    /// <value>The default value is empty: the stage passes calls through.</value>
    [Microsoft.Extensions.Options.ValidateEnumeratedItems]
    public IList<CascadeTier> Tiers { get; set; } = [];

    /// <summary>Gets or sets the scorers that judge a tier's answer; set in code.</summary>
    /// <value>The default value is empty, which means the <see cref="StructuralAnswerScorer"/> alone.</value>
    public IList<IAnswerScorer> Scorers { get; set; } = [];

    /// <summary>Gets or sets how several scorers' scores make one.</summary>
    /// <value>The default value is <see cref="CascadeScoreCombination.Minimum"/>.</value>
    [EnumDataType(typeof(CascadeScoreCombination))]
    public CascadeScoreCombination Combination { get; set; } = CascadeScoreCombination.Minimum;

    /// <summary>Gets or sets the router that picks the first tier before any call (skipping tiers that would not pass); set in code.</summary>
    /// <value>The default value is <see langword="null"/>: every request starts at the cheapest tier.</value>
    public ICascadeRouter? Router { get; set; }

    /// <summary>Gets or sets how many times a tier's call is retried on a transient error (jittered exponential backoff) before the cascade moves on.</summary>
    /// <value>The default value is 2.</value>
    [Range(0, 10)]
    public int MaxRetries { get; set; } = 2;

    /// <summary>Gets or sets the longest a tier's call may take before it counts as failed, or <see langword="null"/> for no limit.</summary>
    /// <value>The default value is <see langword="null"/>.</value>
    [Range(typeof(TimeSpan), "00:00:00.100", "01:00:00")]
    public TimeSpan? TierTimeout { get; set; }

    /// <summary>
    /// Gets or sets how many consecutive failures open a tier's circuit breaker: the tier is then skipped for
    /// <see cref="BreakDuration"/> instead of being called, or 0 for no breaker.
    /// </summary>
    /// <value>The default value is 5.</value>
    [Range(0, 1000)]
    public int BreakAfterFailures { get; set; } = 5;

    /// <summary>Gets or sets how long an open circuit breaker skips its tier.</summary>
    /// <value>The default value is 30 seconds.</value>
    [Range(typeof(TimeSpan), "00:00:00.500", "1.00:00:00")]
    public TimeSpan BreakDuration { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Gets or sets the least money the call's budgets must still allow (as the budget stage outside reports it) for
    /// the cascade to escalate; below it, the current tier's answer is served and the report says so. <see langword="null"/>
    /// to escalate regardless.
    /// </summary>
    /// <value>The default value is <see langword="null"/>.</value>
    public decimal? MinimumBudgetToEscalate { get; set; }

    internal ModelCascadeOptions Clone()
    {
        ModelCascadeOptions copy = (ModelCascadeOptions)MemberwiseClone();
        copy.Tiers = [.. Tiers.Select(static t => t.Clone())];
        copy.Scorers = [.. Scorers];
        return copy;
    }
}

namespace CostAware;

/// <summary>What the cascade did for one request: each tier tried, and the money saved (or lost) against always calling the strongest tier.</summary>
/// <remarks>On a response under <see cref="CostAwareProperties.CascadeReport"/>; read it with <c>response.GetCascadeReport()</c>.</remarks>
public sealed record class CascadeReport
{
    /// <summary>Gets the tiers tried, in order.</summary>
    public required IReadOnlyList<CascadeAttempt> Attempts { get; init; }

    /// <summary>Gets the first tier the request was sent to (after pre-call routing).</summary>
    public int StartTier { get; init; }

    /// <summary>Gets a value indicating whether the cascade served a lower tier's answer because the budgets had too little left to escalate.</summary>
    public bool StoppedByBudget { get; init; }

    /// <summary>Gets the money all tiers cost together.</summary>
    public decimal Spent { get; init; }

    /// <summary>
    /// Gets what always calling the strongest tier would have cost for this request (its prices, the request's input
    /// tokens and the served answer's output tokens), or <see langword="null"/> when it cannot be priced.
    /// </summary>
    public decimal? StrongestTierCost { get; init; }

    /// <summary>Gets <see cref="StrongestTierCost"/> minus <see cref="Spent"/>: negative when the cascade cost more (it tried and escalated).</summary>
    public decimal? Saved => StrongestTierCost - Spent;
}

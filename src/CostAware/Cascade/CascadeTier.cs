using Microsoft.Extensions.AI;

namespace CostAware;

/// <summary>One tier of a model cascade: the model (or client) to call, and the score its answer needs to be served.</summary>
/// <remarks>A mutable bag for configuration; the stage copies it when it is built.</remarks>
public sealed class CascadeTier
{
    /// <summary>Gets or sets the model the tier calls, sent as <c>ChatOptions.ModelId</c> through the inner pipeline.</summary>
    /// <value>The default value is <see langword="null"/> (the inner client's default model).</value>
    public string? ModelId { get; set; }

    /// <summary>Gets or sets a client of the tier's own (another provider); set in code, not from configuration.</summary>
    /// <value>The default value is <see langword="null"/>: the tier calls the inner pipeline.</value>
    public IChatClient? Client { get; set; }

    /// <summary>
    /// Gets or sets the score the tier's answer needs to be served; below it the cascade escalates. Scores are in [0, 1]:
    /// 0 serves every answer without running the scorers (nothing is paid for scoring), and a threshold above 1 (up to
    /// +∞) never serves the tier's answer, which forces escalation (to collect outcomes, or to keep a tier only as the
    /// source other tiers' scorers compare with). Not used for the last tier, whose answer is always served.
    /// </summary>
    /// <value>The default value is 0.7.</value>
    [Internal.Threshold]
    public double AcceptThreshold { get; set; } = 0.7;

    /// <summary>
    /// Gets or sets the scorers for this tier's answers; empty uses <see cref="ModelCascadeOptions.Scorers"/>. Set in
    /// code, not from configuration.
    /// </summary>
    /// <value>The default value is an empty list.</value>
    public IList<IAnswerScorer> Scorers { get; set; } = [];

    internal CascadeTier Clone()
    {
        CascadeTier copy = (CascadeTier)MemberwiseClone();
        copy.Scorers = [.. Scorers];
        return copy;
    }
}

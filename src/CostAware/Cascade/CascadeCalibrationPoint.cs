namespace CostAware;

/// <summary>One setting of a cascade's thresholds and what it gives on the labelled examples.</summary>
/// <param name="Thresholds">One threshold per tier but the last; <see cref="double.PositiveInfinity"/> means the tier is dropped (never called).</param>
/// <param name="Quality">The mean quality of the answers served.</param>
/// <param name="Cost">The mean cost per request.</param>
public sealed record class CascadeCalibrationPoint(IReadOnlyList<double> Thresholds, double Quality, decimal Cost)
{
    /// <summary>
    /// Gets a value indicating whether the setting is a real cascade: some tier before the last is kept. When it is not,
    /// the setting is the last (strongest) tier alone.
    /// </summary>
    public bool IsCascade => Thresholds.Any(static t => !double.IsPositiveInfinity(t));

    /// <summary>
    /// Applies the setting to the tiers it was calibrated on: copies of the kept tiers with their thresholds, the dropped
    /// ones left out (a dropped tier is not a tier with a threshold above 1, which would still be called and paid for).
    /// </summary>
    /// <param name="tiers">The tiers, cheapest first, as many as the examples had.</param>
    /// <returns>The tiers to put in <see cref="ModelCascadeOptions.Tiers"/>.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="tiers"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException"><paramref name="tiers"/> does not have one tier more than there are thresholds.</exception>
    /// <remarks>
    /// A kept tier whose scorers compare with a dropped tier (<see cref="TierAgreementAnswerScorer"/>) still asks it for
    /// its answer: the calibration priced that call on the tier whose scorer asked, so the setting's cost holds.
    /// </remarks>
    public IList<CascadeTier> Apply(IReadOnlyList<CascadeTier> tiers)
    {
        ArgumentNullException.ThrowIfNull(tiers);
        if (tiers.Count != Thresholds.Count + 1)
        {
            throw new ArgumentException($"The setting has {Thresholds.Count} thresholds, for {Thresholds.Count + 1} tiers; {tiers.Count} were given.", nameof(tiers));
        }

        List<CascadeTier> kept = [];
        for (int i = 0; i < tiers.Count; i++)
        {
            bool last = i == tiers.Count - 1;
            if (!last && double.IsPositiveInfinity(Thresholds[i]))
            {
                continue;
            }

            CascadeTier copy = tiers[i].Clone();
            if (!last)
            {
                copy.AcceptThreshold = Thresholds[i];
            }

            kept.Add(copy);
        }

        return kept;
    }
}

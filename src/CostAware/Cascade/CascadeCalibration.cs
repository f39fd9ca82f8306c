namespace CostAware;

/// <summary>
/// Picks a cascade's thresholds from labelled examples: for every setting of the thresholds, replays each example
/// through the tiers (a tier serves when its score reaches its threshold; the last tier always serves) and keeps the
/// cheapest setting whose mean quality reaches the target.
/// </summary>
public static class CascadeCalibration
{
    private const int MaxCandidatesPerTier = 64;

    /// <summary>
    /// Collects every tier's outcome on labelled requests through a real cascade stage: each tier is asked (metered,
    /// with its cost from the receipt: the catalog's prices, or the cost the provider reported), its answer scored by the
    /// tier's scorers whatever its threshold (the last tier is not scored), and graded by the app. The result is what
    /// <see cref="Calibrate"/> and <see cref="Evaluate"/> take.
    /// </summary>
    /// <param name="cascade">The stage, built with the tiers and scorers to calibrate (its thresholds are ignored).</param>
    /// <param name="requests">The labelled requests' messages.</param>
    /// <param name="grade">
    /// The quality of an answer, in [0, 1] (1 right, 0 wrong), given the request's index in <paramref name="requests"/>,
    /// the tier, and the answer.
    /// </param>
    /// <param name="options">The options every request is sent with (the cascade sets each tier's model), or <see langword="null"/>.</param>
    /// <param name="cancellationToken">Cancels the collection.</param>
    /// <returns>Per request, one outcome per tier, cheapest tier first.</returns>
    /// <exception cref="ArgumentNullException">An argument is <see langword="null"/>.</exception>
    /// <exception cref="InvalidOperationException">A tier's call could not be priced, or a grade is not in [0, 1].</exception>
    /// <remarks>
    /// A scorer's call to another tier (<see cref="TierAgreementAnswerScorer"/>) is charged to the tier whose scorer made
    /// it, and that tier's own outcome then costs nothing more, as in a real run of the full chain.
    /// </remarks>
    public static async Task<IReadOnlyList<IReadOnlyList<CascadeTierOutcome>>> CollectAsync(
        ModelCascadeChatClient cascade,
        IReadOnlyList<IReadOnlyList<Microsoft.Extensions.AI.ChatMessage>> requests,
        Func<int, int, Microsoft.Extensions.AI.ChatResponse, double> grade,
        Microsoft.Extensions.AI.ChatOptions? options = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(cascade);
        ArgumentNullException.ThrowIfNull(requests);
        ArgumentNullException.ThrowIfNull(grade);
        List<IReadOnlyList<CascadeTierOutcome>> outcomes = new(requests.Count);
        for (int i = 0; i < requests.Count; i++)
        {
            int index = i;
            outcomes.Add(await cascade.CollectOutcomesAsync(
                requests[i], options?.Clone(), (response, tier) => grade(index, tier, response), cancellationToken));
        }

        return outcomes;
    }

    /// <summary>Chooses thresholds that reach <paramref name="targetQuality"/> at least cost, and reports the cost/quality curve.</summary>
    /// <param name="examples">Per example, one outcome per tier, cheapest tier first; every example has every tier.</param>
    /// <param name="targetQuality">The mean quality to reach, in [0, 1].</param>
    /// <returns>The chosen thresholds and the frontier.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="examples"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException">There are no examples, fewer than two tiers, or examples with different numbers of tiers.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="targetQuality"/> is not in [0, 1].</exception>
    public static CascadeCalibrationResult Calibrate(IReadOnlyList<IReadOnlyList<CascadeTierOutcome>> examples, double targetQuality)
    {
        ArgumentNullException.ThrowIfNull(examples);
        if (!(targetQuality >= 0d && targetQuality <= 1d))
        {
            throw new ArgumentOutOfRangeException(nameof(targetQuality), targetQuality, "The target quality must be in [0, 1].");
        }

        if (examples.Count == 0)
        {
            throw new ArgumentException("Calibration needs labelled examples.", nameof(examples));
        }

        int tiers = examples[0].Count;
        if (tiers < 2 || examples.Any(e => e.Count != tiers))
        {
            throw new ArgumentException("Every example needs one outcome per tier, and a cascade at least two tiers.", nameof(examples));
        }

        if (examples.Any(static e => e.Any(static o => !(o.Score >= 0d && o.Score <= 1d) || !(o.Quality >= 0d && o.Quality <= 1d) || o.Cost < 0m)))
        {
            throw new ArgumentException("Every outcome needs a score and a quality in [0, 1] and a cost of zero or more.", nameof(examples));
        }

        // Candidate thresholds per tier: its distinct scores (at most 64, by quantile), and "never serve".
        double[][] candidates = new double[tiers - 1][];
        for (int t = 0; t < tiers - 1; t++)
        {
            double[] scores = [.. examples.Select(e => e[t].Score).Distinct().Order()];
            if (scores.Length > MaxCandidatesPerTier)
            {
                scores = [.. Enumerable.Range(0, MaxCandidatesPerTier).Select(i => scores[i * (scores.Length - 1) / (MaxCandidatesPerTier - 1)]).Distinct()];
            }

            candidates[t] = [.. scores, double.PositiveInfinity];
        }

        List<CascadeCalibrationPoint> points = [];
        int[] index = new int[tiers - 1];
        while (true)
        {
            double[] thresholds = [.. index.Select((i, t) => candidates[t][i])];
            points.Add(Evaluate(examples, thresholds));
            int k = 0;
            while (k < index.Length && ++index[k] == candidates[k].Length)
            {
                index[k++] = 0;
            }

            if (k == index.Length)
            {
                break;
            }
        }

        List<CascadeCalibrationPoint> curve = [];
        foreach (CascadeCalibrationPoint point in points.OrderBy(static p => p.Cost).ThenByDescending(static p => p.Quality))
        {
            if (curve.Count == 0 || point.Quality > curve[^1].Quality)
            {
                curve.Add(point);
            }
        }

        // The strongest tier alone is a setting of its own, off the frontier when a cascade beats it on both.
        CascadeCalibrationPoint alone = points.First(static p => !p.IsCascade);
        CascadeCalibrationPoint? met = curve.FirstOrDefault(p => p.IsCascade && p.Quality >= targetQuality);
        bool aloneMeets = alone.Quality >= targetQuality;
        if (met is not null && aloneMeets && alone.Cost <= met.Cost)
        {
            // A cascade that meets the target only by escalating (nearly) everything costs more than the strongest tier
            // alone: it does not pay.
            met = null;
        }

        return new CascadeCalibrationResult
        {
            Chosen = met ?? (aloneMeets ? alone : curve[^1]),
            TargetMet = met is not null,
            StrongestAloneMeetsTarget = aloneMeets,
            Curve = curve,
        };
    }

    /// <summary>Replays the examples through the tiers at the given thresholds.</summary>
    /// <param name="examples">Per example, one outcome per tier.</param>
    /// <param name="thresholds">One threshold per tier but the last.</param>
    /// <returns>The mean quality served and the mean cost.</returns>
    /// <exception cref="ArgumentNullException">An argument is <see langword="null"/>.</exception>
    public static CascadeCalibrationPoint Evaluate(IReadOnlyList<IReadOnlyList<CascadeTierOutcome>> examples, IReadOnlyList<double> thresholds)
    {
        ArgumentNullException.ThrowIfNull(examples);
        ArgumentNullException.ThrowIfNull(thresholds);
        double quality = 0d;
        decimal cost = 0m;
        foreach (IReadOnlyList<CascadeTierOutcome> example in examples)
        {
            for (int t = 0; t < example.Count; t++)
            {
                bool last = t == example.Count - 1;
                if (!last && double.IsPositiveInfinity(thresholds[t]))
                {
                    continue;
                }

                cost += example[t].Cost;
                if (last || example[t].Score >= thresholds[t])
                {
                    quality += example[t].Quality;
                    break;
                }
            }
        }

        return new CascadeCalibrationPoint(thresholds, quality / examples.Count, cost / examples.Count);
    }
}

using System.Numerics.Tensors;
using CostAware.SemanticCache.Internal;
using Microsoft.Extensions.AI;

namespace CostAware;

/// <summary>
/// Chooses a static similarity threshold and guard set for <see cref="SemanticCacheOptions"/> from the app's own labelled
/// pairs: the one that serves the most true paraphrases while the precision of what it serves meets a target.
/// </summary>
/// <remarks>
/// Every guard set tried (none, all four, each alone) is swept over every similarity the pairs take. Precision is judged
/// by its 95 % lower confidence bound (Wilson), not the point estimate, so a threshold chosen on a few hundred pairs does
/// not promise more than they show. Use pairs like the traffic: hard negatives (same topic, other answer), not random
/// pairs, against which any threshold looks good. For thresholds learned online from verification, use
/// <see cref="SemanticCacheOptions.MaxErrorRate"/> instead.
/// </remarks>
public static class SemanticCacheCalibration
{
    private const double Z = 1.645;

    private static readonly SemanticGuards[] GuardSets =
    [
        SemanticGuards.None, SemanticGuards.All, SemanticGuards.Numbers, SemanticGuards.Dates, SemanticGuards.Negations, SemanticGuards.Entities,
    ];

    /// <summary>Embeds the pairs with <paramref name="embeddingGenerator"/> and finds the threshold and guards that meet <paramref name="targetPrecision"/> with the best recall.</summary>
    /// <param name="pairs">Labelled pairs: two texts and whether one's answer serves the other.</param>
    /// <param name="embeddingGenerator">The embedder the cache will use (thresholds do not carry over between models).</param>
    /// <param name="targetPrecision">The least share of served answers that must be right, in (0, 1), e.g. 0.99.</param>
    /// <param name="guards">The one guard set to try; <see langword="null"/> (the default) tries none, all four, and each alone.</param>
    /// <param name="cancellationToken">The token to monitor for cancellation requests.</param>
    /// <returns>The choice and, for the chosen guard set, the precision/recall curve by threshold.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="pairs"/> or <paramref name="embeddingGenerator"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException">There are no pairs, no positive pair, a text is <see langword="null"/>, or <paramref name="targetPrecision"/> is outside (0, 1).</exception>
    /// <exception cref="InvalidOperationException">The embedder returned a different number of embeddings than texts, or embeddings of different lengths.</exception>
    public static async Task<SemanticCalibrationResult> CalibrateAsync(
        IEnumerable<SemanticCalibrationPair> pairs,
        IEmbeddingGenerator<string, Embedding<float>> embeddingGenerator,
        double targetPrecision,
        SemanticGuards? guards = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(pairs);
        ArgumentNullException.ThrowIfNull(embeddingGenerator);
        if (!(targetPrecision is > 0 and < 1))
        {
            throw new ArgumentException($"The target precision is {targetPrecision}; it lies in (0, 1), e.g. 0.99.", nameof(targetPrecision));
        }

        SemanticCalibrationPair[] list = [.. pairs];
        if (list.Length == 0 || !list.Any(p => p.SameAnswer))
        {
            throw new ArgumentException("Calibration needs labelled pairs, at least one of them a true paraphrase (SameAnswer).", nameof(pairs));
        }

        Dictionary<string, int> index = new(StringComparer.Ordinal);
        List<string> texts = [];
        foreach (SemanticCalibrationPair pair in list)
        {
            foreach (string? text in (string?[])[pair.First, pair.Second])
            {
                ArgumentNullException.ThrowIfNull(text, nameof(pairs));
                if (index.TryAdd(text, texts.Count))
                {
                    texts.Add(text);
                }
            }
        }

        float[][] vectors = new float[texts.Count][];
        for (int start = 0; start < texts.Count; start += 256)
        {
            List<string> batch = texts.GetRange(start, Math.Min(256, texts.Count - start));
            GeneratedEmbeddings<Embedding<float>> embedded = await embeddingGenerator.GenerateAsync(batch, options: null, cancellationToken);
            if (embedded.Count != batch.Count)
            {
                throw new InvalidOperationException($"The embedding generator returned {embedded.Count} embeddings for {batch.Count} texts.");
            }

            for (int i = 0; i < batch.Count; i++)
            {
                vectors[start + i] = embedded[i].Vector.ToArray();
            }
        }

        TextFeatures[] features = [.. texts.Select(TextFeatures.Extract)];
        int positives = list.Count(p => p.SameAnswer);
        (float Similarity, int First, int Second, bool Same)[] scored = new (float, int, int, bool)[list.Length];
        for (int i = 0; i < list.Length; i++)
        {
            int a = index[list[i].First];
            int b = index[list[i].Second];
            if (vectors[a].Length != vectors[b].Length)
            {
                throw new InvalidOperationException("The embedding generator returned embeddings of different lengths.");
            }

            scored[i] = (TensorPrimitives.CosineSimilarity(vectors[a], vectors[b]), a, b, list[i].SameAnswer);
        }

        Array.Sort(scored, static (x, y) => y.Similarity.CompareTo(x.Similarity));
        SemanticCalibrationPoint? best = null;
        List<SemanticCalibrationPoint>? bestCurve = null;
        List<SemanticCalibrationPoint>? fallbackCurve = null;
        SemanticGuards[] sets = guards is { } only ? [only] : GuardSets;
        foreach (SemanticGuards set in sets)
        {
            List<SemanticCalibrationPoint> curve = Sweep(scored, features, set, positives, out SemanticCalibrationPoint? chosen, targetPrecision);
            if (set == SemanticGuards.All || sets.Length == 1)
            {
                fallbackCurve = curve;
            }

            if (chosen is not null && (best is null || chosen.Recall > best.Recall))
            {
                best = chosen;
                bestCurve = curve;
            }
        }

        return new SemanticCalibrationResult
        {
            TargetPrecision = targetPrecision,
            Threshold = best?.Threshold,
            Guards = best?.Guards ?? guards ?? SemanticGuards.All,
            Precision = best?.Precision ?? 0,
            Recall = best?.Recall ?? 0,
            Pairs = list.Length,
            Curve = bestCurve ?? fallbackCurve!,
        };
    }

    // Every cut at a distinct similarity: what a threshold there would serve (pairs at or above it, not vetoed).
    private static List<SemanticCalibrationPoint> Sweep(
        (float Similarity, int First, int Second, bool Same)[] scored, TextFeatures[] features, SemanticGuards guards, int positives,
        out SemanticCalibrationPoint? chosen, double target)
    {
        chosen = null;
        List<SemanticCalibrationPoint> curve = [];
        int served = 0;
        int right = 0;
        float lastCurve = float.PositiveInfinity;
        for (int i = 0; i < scored.Length; i++)
        {
            (float similarity, int a, int b, bool same) = scored[i];
            if (GuardCheck.Veto(features[b], features[a], guards, 0f) is null)
            {
                served++;
                right += same ? 1 : 0;
            }

            if ((i + 1 < scored.Length && scored[i + 1].Similarity == similarity) || served == 0)
            {
                continue;
            }

            SemanticCalibrationPoint point = new(
                similarity, guards, (double)right / served, LowerBound(right, served), (double)right / positives, served, served - right);
            if (point.PrecisionLowerBound >= target)
            {
                chosen = point;
            }

            // The curve keeps one point per 0.01 of similarity (and the last cut), enough to plot.
            if (MathF.Floor(similarity * 100) < MathF.Floor(lastCurve * 100) || i + 1 == scored.Length)
            {
                curve.Add(point);
                lastCurve = similarity;
            }
        }

        return curve;
    }

    private static double LowerBound(int right, int n) => Math.Max(0, 1 - ErrorBound.UpperBound(n - right, n, Z));
}

/// <summary>A labelled pair for <see cref="SemanticCacheCalibration"/>: two texts, and whether the answer to one serves the other.</summary>
/// <param name="First">One text (the one stored in the cache).</param>
/// <param name="Second">The other (the one asked later).</param>
/// <param name="SameAnswer">Whether one answer serves both.</param>
public readonly record struct SemanticCalibrationPair(string First, string Second, bool SameAnswer);

/// <summary>What a threshold with a guard set would serve on the calibration pairs.</summary>
/// <param name="Threshold">The cosine similarity threshold.</param>
/// <param name="Guards">The guards applied.</param>
/// <param name="Precision">The share of served pairs that are true paraphrases.</param>
/// <param name="PrecisionLowerBound">Its 95 % lower confidence bound (Wilson), what the target is compared with.</param>
/// <param name="Recall">The share of all true paraphrases served.</param>
/// <param name="Served">The pairs served.</param>
/// <param name="Wrong">The served pairs that are not paraphrases.</param>
public sealed record SemanticCalibrationPoint(float Threshold, SemanticGuards Guards, double Precision, double PrecisionLowerBound, double Recall, int Served, int Wrong);

/// <summary>The result of <see cref="SemanticCacheCalibration.CalibrateAsync"/>.</summary>
public sealed class SemanticCalibrationResult
{
    /// <summary>Gets the precision asked for.</summary>
    public required double TargetPrecision { get; init; }

    /// <summary>Gets the chosen threshold for <see cref="SemanticCacheOptions.SimilarityThreshold"/>, or <see langword="null"/> when no threshold and guard set meets the target on these pairs.</summary>
    public required float? Threshold { get; init; }

    /// <summary>Gets the chosen guards for <see cref="SemanticCacheOptions.Guards"/> (the only set tried, or all four, when none met the target).</summary>
    public required SemanticGuards Guards { get; init; }

    /// <summary>Gets the precision at the chosen point (0 when none).</summary>
    public required double Precision { get; init; }

    /// <summary>Gets the recall at the chosen point (0 when none).</summary>
    public required double Recall { get; init; }

    /// <summary>Gets the number of pairs calibrated on.</summary>
    public required int Pairs { get; init; }

    /// <summary>Gets a value indicating whether a threshold met the target.</summary>
    public bool TargetMet => Threshold is not null;

    /// <summary>Gets the curve for the chosen guard set (all four when none met the target), from the highest threshold down, one point per 0.01.</summary>
    public required IReadOnlyList<SemanticCalibrationPoint> Curve { get; init; }
}

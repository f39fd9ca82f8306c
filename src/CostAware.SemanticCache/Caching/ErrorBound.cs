namespace CostAware.SemanticCache.Internal;

// The error-bounded mode's learning (vCache's idea, ICLR 2026, in a form that checks itself): whether serving a stored
// answer at a similarity is safe is learned online from verifications, calls that are answered by the provider anyway
// and whose fresh answer is compared with the stored one.
//
// - A candidate below the floor is a plain miss.
// - A candidate the bound does not yet cover is verified: the provider answers (as on a miss, so it costs no more than
//   a miss) and the comparison is one observation (similarity, same answer?).
// - The stage-wide threshold is the lowest similarity t such that, among the observations at or above t, the upper
//   confidence bound (Wilson, one-sided 99 %) of the wrong share is within MaxErrorRate. Until that many observations
//   exist the threshold is +infinity and nothing is served by meaning: the bound is never met by assumption.
// - Each entry keeps the highest similarity at which it was found wrong (by a verification or the app's feedback) and
//   never serves at or below it: its own threshold only rises above the stage's.
// - Above the threshold, a share (VerificationRate) of would-be hits is still verified, so the estimate follows the
//   traffic: if the wrong share rises, the threshold rises with it.
// - Below the stage's threshold an entry can earn its own (vCache's per-entry boundary): an entry whose answer was
//   confirmed for k other texts at or below this similarity (k = 1, 2, 3 or more) is a candidate of policy k, and each
//   policy keeps its own count of verifications and errors. A policy serves only once its own Wilson bound is within
//   MaxErrorRate; until then its candidates are all verified, which is how it earns the evidence. So every answer
//   served by meaning comes from a rule whose measured error meets the bound.
//
// Observations are counted alike whether forced or sampled; later observations above an older threshold are sparser
// than those below it, which only overstates the error near the boundary (the bound stays conservative). Thread-safe.
internal sealed class ErrorBound
{
    // One-sided 99 %: the threshold is chosen among many cut points, so a plain 95 % bound would be optimistic.
    private const double Z = 2.326;
    // Refit after every observation while there are few (the bound may be met by the next one), then every 16: a fit
    // sorts the observations, and a verification is a provider call, hundreds of times slower.
    private const int RefitEvery = 16;
    private const int RefitAlwaysBelow = 2048;

    private readonly double _maxError;
    private readonly float _floor;
    private readonly double _verificationRate;
    private readonly Lock _gate = new();
    private readonly Observation[] _ring;
    private int _next;
    private int _count;
    private int _sinceRefit;
    private float _threshold = float.PositiveInfinity;

    // Entry-earned policies 1..3: verifications and errors of candidates with k confirmations at or below.
    private readonly int[] _policyTrials = new int[EntryPolicies + 1];
    private readonly int[] _policyErrors = new int[EntryPolicies + 1];
    private readonly bool[] _policyOpen = new bool[EntryPolicies + 1];

    public const int StagePolicy = 0;
    public const int EntryPolicies = 3;

    public ErrorBound(double maxError, float floor, double verificationRate, int capacity = 16_384)
    {
        _maxError = maxError;
        _floor = floor;
        _verificationRate = verificationRate;
        _ring = new Observation[capacity];
    }

    // The similarity at or above which an entry with no wrong verification is served (+infinity until the bound is met).
    public float Threshold => Volatile.Read(ref _threshold);

    public int Observations
    {
        get
        {
            lock (_gate)
            {
                return _count;
            }
        }
    }

    // Whether entry-earned policy k (1..3) serves yet.
    public bool PolicyOpen(int policy) => Volatile.Read(ref _policyOpen[policy]);

    // What to do with the best candidate: serve it, verify it (the provider answers), or treat the call as a miss; and
    // which policy decided (StagePolicy, or the entry-earned policy 1..3).
    public (BoundDecision Decision, int Policy) Decide(SemanticEntry entry, float similarity, double random)
    {
        if (similarity < _floor)
        {
            return (BoundDecision.Miss, StagePolicy);
        }

        if (similarity <= entry.WrongAt)
        {
            return (BoundDecision.Verify, StagePolicy);
        }

        if (similarity >= Threshold)
        {
            return (random >= _verificationRate ? BoundDecision.Serve : BoundDecision.Verify, StagePolicy);
        }

        int policy = Math.Min(entry.ConfirmedAtOrBelow(similarity), EntryPolicies);
        return policy > 0 && PolicyOpen(policy) && random >= _verificationRate
            ? (BoundDecision.Serve, policy)
            : (BoundDecision.Verify, policy);
    }

    // Learns from one comparison of a stored answer with a fresh one (or the app's report of a wrong hit), made for a
    // candidate of the given policy.
    public void Observe(SemanticEntry entry, float similarity, bool same, int policy = StagePolicy)
    {
        if (!same)
        {
            entry.MarkWrongAt(similarity);
        }
        else
        {
            entry.Confirm(similarity);
        }

        lock (_gate)
        {
            if (policy > StagePolicy)
            {
                _policyTrials[policy]++;
                _policyErrors[policy] += same ? 0 : 1;
                Volatile.Write(ref _policyOpen[policy], UpperBound(_policyErrors[policy], _policyTrials[policy]) <= _maxError);
            }

            _ring[_next] = new Observation(similarity, same);
            _next = (_next + 1) % _ring.Length;
            _count = Math.Min(_count + 1, _ring.Length);
            if (++_sinceRefit >= RefitEvery || !same || _count < RefitAlwaysBelow)
            {
                _sinceRefit = 0;
                Volatile.Write(ref _threshold, Fit(_ring.AsSpan(0, _count), _maxError));
            }
        }
    }

    // The lowest cut whose observations at or above it have a Wilson upper bound of the wrong share within maxError.
    internal static float Fit(ReadOnlySpan<Observation> observations, double maxError)
    {
        Observation[] sorted = observations.ToArray();
        Array.Sort(sorted, static (a, b) => b.Similarity.CompareTo(a.Similarity));
        float best = float.PositiveInfinity;
        int wrong = 0;
        for (int i = 0; i < sorted.Length; i++)
        {
            if (!sorted[i].Same)
            {
                wrong++;
            }

            // A cut falls between distinct similarities only: ties are served or not together.
            if (i + 1 < sorted.Length && sorted[i + 1].Similarity == sorted[i].Similarity)
            {
                continue;
            }

            if (UpperBound(wrong, i + 1) <= maxError)
            {
                best = sorted[i].Similarity;
            }
        }

        return best;
    }

    // Wilson score interval's upper end for `wrong` failures in `n` trials, one-sided at z (the lower end of the other
    // outcome's share is 1 minus it, which calibration uses).
    internal static double UpperBound(int wrong, int n, double z = Z)
    {
        double p = (double)wrong / n;
        double z2 = z * z;
        double centre = p + (z2 / (2 * n));
        double spread = z * Math.Sqrt((p * (1 - p) / n) + (z2 / (4.0 * n * n)));

        // Between the observed rate and 1 in exact arithmetic; rounding can land a hair outside (at wrong == n the
        // formula gives 0.9999999999999999), which would let a bound of "all wrong" read as below the observed rate.
        return Math.Clamp((centre + spread) / (1 + (z2 / n)), p, 1d);
    }

    internal readonly record struct Observation(float Similarity, bool Same);
}

internal enum BoundDecision
{
    Miss,
    Verify,
    Serve,
}

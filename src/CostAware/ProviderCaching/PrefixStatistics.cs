using System.Collections.Concurrent;

namespace CostAware.Internal;

// What the provider prompt caching stage knows about prefixes it has seen: per prefix (a 128-bit hash that includes the
// tenant, so nothing of a tenant's text or id is kept), how often and how far apart it arrived. Bounded: beyond the
// capacity the least recently seen tenth is forgotten. Thread-safe.
internal sealed class PrefixStatistics(int capacity)
{
    private readonly ConcurrentDictionary<UInt128, Prefix> _prefixes = new();
    private readonly ConcurrentDictionary<UInt128, Continuation> _continuations = new();
    private int _trimming;

    public int Count => _prefixes.Count;

    public Prefix? Find(UInt128 key) => _prefixes.TryGetValue(key, out Prefix? prefix) ? prefix : null;

    // How often a tenant's requests were later extended by another (the next turn of a conversation or an agent loop):
    // requests seen as a whole, and how many of them a later request extended.
    public (long Requests, long Extended) Continuations(UInt128 tenant) =>
        _continuations.TryGetValue(tenant, out Continuation? c) ? (Volatile.Read(ref c.Requests), Volatile.Read(ref c.Extended)) : (0, 0);

    public void ObserveRequest(UInt128 tenant, UInt128 key, long nowMs)
    {
        _ = Interlocked.Increment(ref ContinuationOf(tenant).Requests);
        Observe(key, nowMs);
    }

    // A request extended an earlier one: counted once per earlier request.
    public void ObserveExtended(UInt128 tenant, Prefix extended)
    {
        if (extended.MarkExtended())
        {
            _ = Interlocked.Increment(ref ContinuationOf(tenant).Extended);
        }
    }

    private Continuation ContinuationOf(UInt128 tenant) =>
        _continuations.Count < capacity || _continuations.ContainsKey(tenant)
            ? _continuations.GetOrAdd(tenant, static _ => new Continuation())
            : Continuation.Untracked;

    public void Observe(UInt128 key, long nowMs)
    {
        _prefixes.GetOrAdd(key, static _ => new Prefix()).Observe(nowMs);
        if (_prefixes.Count > capacity && Interlocked.Exchange(ref _trimming, 1) == 0)
        {
            try
            {
                Trim();
            }
            finally
            {
                Volatile.Write(ref _trimming, 0);
            }
        }
    }

    private void Trim()
    {
        KeyValuePair<UInt128, Prefix>[] all = [.. _prefixes];
        Array.Sort(all, static (a, b) => a.Value.LastSeenMs.CompareTo(b.Value.LastSeenMs));
        int drop = Math.Max(1, all.Length - (capacity * 9 / 10));
        for (int i = 0; i < drop; i++)
        {
            _ = _prefixes.TryRemove(all[i].Key, out _);
        }
    }

    internal sealed class Continuation
    {
        // Counts of tenants beyond the capacity go nowhere that is read.
        public static readonly Continuation Untracked = new();

        public long Requests;
        public long Extended;
    }

    internal sealed class Prefix
    {
        private readonly Lock _gate = new();
        private long _lastSeenMs;
        private double _gapMs;
        private int _count;
        private int _extended;

        public bool MarkExtended() => Interlocked.Exchange(ref _extended, 1) == 0;

        public long LastSeenMs => Volatile.Read(ref _lastSeenMs);

        // The arrivals so far and the typical gap between them (a moving average of the last few; the time since the
        // only arrival when there was one).
        public (int Count, double GapMs) Read(long nowMs)
        {
            lock (_gate)
            {
                return (_count, _count >= 2 ? _gapMs : nowMs - _lastSeenMs);
            }
        }

        public void Observe(long nowMs)
        {
            lock (_gate)
            {
                if (_count >= 1)
                {
                    double gap = Math.Max(0, nowMs - _lastSeenMs);
                    _gapMs = _count == 1 ? gap : (0.7 * _gapMs) + (0.3 * gap);
                }

                _count = _count == int.MaxValue ? _count : _count + 1;
                Volatile.Write(ref _lastSeenMs, nowMs);
            }
        }
    }
}

using System.Collections.Concurrent;

namespace CostAware.SemanticCache.Internal;

// The recent semantic hits by receipt id, so that the app can report a wrong one: bounded (oldest forgotten first).
internal sealed class HitLog(int capacity = 10_000)
{
    private readonly ConcurrentDictionary<Guid, Hit> _hits = new();
    private readonly ConcurrentQueue<Guid> _order = new();

    public void Remember(Guid receiptId, Hit hit)
    {
        if (!_hits.TryAdd(receiptId, hit))
        {
            return;
        }

        _order.Enqueue(receiptId);
        while (_order.Count > capacity && _order.TryDequeue(out Guid oldest))
        {
            _ = _hits.TryRemove(oldest, out _);
        }
    }

    // Each hit is reported once: a second report of the same receipt finds nothing.
    public bool TryTake(Guid receiptId, out Hit hit) => _hits.TryRemove(receiptId, out hit);

    internal readonly record struct Hit(SemanticEntry Entry, float Similarity, decimal? Avoided, CostScope Scope, int Policy);
}

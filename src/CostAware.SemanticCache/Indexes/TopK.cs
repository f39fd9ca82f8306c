namespace CostAware.SemanticCache.Internal;

// Keeps the k best matches seen so far in a min-heap over the caller's span (the worst kept match at the root), so a
// scan costs O(n log k) and allocates nothing; Complete sorts them best first.
internal ref struct TopK
{
    private readonly Span<VectorMatch> _heap;
    private int _count;

    public TopK(Span<VectorMatch> heap)
    {
        _heap = heap;
        _count = 0;
    }

    // The score a candidate must beat to enter, once the heap is full.
    public readonly float Threshold => _count < _heap.Length ? float.NegativeInfinity : _heap[0].Similarity;

    public void Offer(long id, float similarity)
    {
        if (_heap.Length == 0)
        {
            return;
        }

        if (_count < _heap.Length)
        {
            int i = _count++;
            _heap[i] = new VectorMatch(id, similarity);
            while (i > 0)
            {
                int parent = (i - 1) >> 1;
                if (!Worse(_heap[i], _heap[parent]))
                {
                    break;
                }

                (_heap[i], _heap[parent]) = (_heap[parent], _heap[i]);
                i = parent;
            }

            return;
        }

        VectorMatch candidate = new(id, similarity);
        if (!Worse(_heap[0], candidate))
        {
            return;
        }

        _heap[0] = candidate;
        int at = 0;
        while (true)
        {
            int left = (2 * at) + 1;
            if (left >= _count)
            {
                break;
            }

            int worst = left + 1 < _count && Worse(_heap[left + 1], _heap[left]) ? left + 1 : left;
            if (!Worse(_heap[worst], _heap[at]))
            {
                break;
            }

            (_heap[at], _heap[worst]) = (_heap[worst], _heap[at]);
            at = worst;
        }
    }

    public readonly int Complete()
    {
        Span<VectorMatch> kept = _heap[.._count];
        kept.Sort(static (a, b) => Worse(a, b) ? 1 : Worse(b, a) ? -1 : 0);
        return _count;
    }

    // Lower similarity is worse; among equals the larger id is worse, so results are deterministic.
    private static bool Worse(VectorMatch a, VectorMatch b) => a.Similarity < b.Similarity || (a.Similarity == b.Similarity && a.Id > b.Id);
}

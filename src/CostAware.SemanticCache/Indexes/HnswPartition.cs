using System.Numerics.Tensors;

namespace CostAware.SemanticCache.Internal;

// One partition as a hierarchical navigable small-world graph (Malkov & Yashunin). Level 0 links sit in one flat
// array (count first, then up to 2M neighbours per node) for locality; the few nodes on upper levels keep a jagged
// array per level. Neighbours are chosen with the paper's heuristic (keep a candidate only if it is closer to the new
// node than to every neighbour already kept), which is what keeps recall up on clustered data. Removal marks a node
// deleted: it still routes searches but is never returned; when deleted nodes outnumber live ones the graph is
// rebuilt from the live ones. Searches share a reader lock; inserts and removals take the writer lock.
internal sealed class HnswPartition : IPartition
{
    private readonly ReaderWriterLockSlim _lock = new(LockRecursionPolicy.NoRecursion);
    private readonly int _dimensions;
    private readonly int _m;
    private readonly int _m0;
    private readonly int _efConstruction;
    private readonly double _levelMultiplier;
    private readonly Random _random;
    private readonly Dictionary<long, int> _nodeOfId = [];

    private float[] _vectors;
    private long[] _ids;
    private int[] _levels;
    private bool[] _deleted;
    private int[] _links0;
    private int[][][] _upperLinks;
    private int _count;
    private int _deletedCount;
    private int _entry = -1;
    private int _maxLevel = -1;

    public HnswPartition(int dimensions, int m, int efConstruction, int seed)
    {
        _dimensions = dimensions;
        _m = m;
        _m0 = 2 * m;
        _efConstruction = efConstruction;
        _levelMultiplier = 1 / Math.Log(m);
        _random = new Random(seed);
        const int initial = 64;
        _vectors = new float[initial * dimensions];
        _ids = new long[initial];
        _levels = new int[initial];
        _deleted = new bool[initial];
        _links0 = new int[initial * (_m0 + 1)];
        _upperLinks = new int[initial][][];
    }

    public void Dispose() => _lock.Dispose();

    public bool Upsert(long id, ReadOnlySpan<float> unitVector)
    {
        _lock.EnterWriteLock();
        try
        {
            bool added = true;
            if (_nodeOfId.Remove(id, out int old))
            {
                MarkDeleted(old);
                added = false;
            }

            _nodeOfId[id] = Insert(id, unitVector);
            CompactIfSparse();
            return added;
        }
        finally
        {
            _lock.ExitWriteLock();
        }
    }

    public bool Remove(long id)
    {
        _lock.EnterWriteLock();
        try
        {
            if (!_nodeOfId.Remove(id, out int node))
            {
                return false;
            }

            MarkDeleted(node);
            CompactIfSparse();
            return true;
        }
        finally
        {
            _lock.ExitWriteLock();
        }
    }

    public int Search(float[] query, int candidates, Span<VectorMatch> results)
    {
        _lock.EnterReadLock();
        try
        {
            if (_entry < 0 || _nodeOfId.Count == 0)
            {
                return 0;
            }

            ReadOnlySpan<float> q = query.AsSpan(0, _dimensions);
            int ep = DescendTo(q, level: 0);
            SearchScratch scratch = SearchScratch.ForThread();
            scratch.BeginSearch(_count);
            int ef = Math.Max(candidates, results.Length);
            SearchLayer(q, ep, ef, 0, scratch, skipDeleted: true);

            // The results heap holds the best ef (worst on top); take the best results.Length of them.
            TopK top = new(results);
            while (scratch.Results.TryDequeue(out int node, out float similarity))
            {
                top.Offer(_ids[node], similarity);
            }

            return top.Complete();
        }
        finally
        {
            _lock.ExitReadLock();
        }
    }

    private float Similarity(ReadOnlySpan<float> query, int node) =>
        TensorPrimitives.Dot(query, _vectors.AsSpan(node * _dimensions, _dimensions));

    private float Similarity(int a, int b) =>
        TensorPrimitives.Dot(_vectors.AsSpan(a * _dimensions, _dimensions), _vectors.AsSpan(b * _dimensions, _dimensions));

    // Greedy descent through the upper levels to the best entry point for the given level.
    private int DescendTo(ReadOnlySpan<float> query, int level)
    {
        int current = _entry;
        float best = Similarity(query, current);
        for (int l = _maxLevel; l > level; l--)
        {
            bool improved = true;
            while (improved)
            {
                improved = false;
                foreach (int neighbour in Links(current, l))
                {
                    float s = Similarity(query, neighbour);
                    if (s > best)
                    {
                        best = s;
                        current = neighbour;
                        improved = true;
                    }
                }
            }
        }

        return current;
    }

    // The beam search of one level from an entry point; leaves the best ef nodes in scratch.Results (worst first).
    private void SearchLayer(ReadOnlySpan<float> query, int entry, int ef, int level, SearchScratch scratch, bool skipDeleted)
    {
        PriorityQueue<int, float> candidates = scratch.Candidates;
        PriorityQueue<int, float> results = scratch.Results;
        candidates.Clear();
        results.Clear();

        float s0 = Similarity(query, entry);
        scratch.Visit(entry);
        candidates.Enqueue(entry, -s0);
        if (!skipDeleted || !_deleted[entry])
        {
            results.Enqueue(entry, s0);
        }

        while (candidates.TryDequeue(out int current, out float negative))
        {
            float worst = Priority(results);
            if (results.Count >= ef && -negative < worst)
            {
                break;
            }

            foreach (int neighbour in Links(current, level))
            {
                if (!scratch.Visit(neighbour))
                {
                    continue;
                }

                float s = Similarity(query, neighbour);
                if (results.Count < ef || s > Priority(results))
                {
                    candidates.Enqueue(neighbour, -s);
                    if (!skipDeleted || !_deleted[neighbour])
                    {
                        results.Enqueue(neighbour, s);
                        if (results.Count > ef)
                        {
                            _ = results.Dequeue();
                        }
                    }
                }
            }
        }
    }

    private static float Priority(PriorityQueue<int, float> queue) =>
        queue.TryPeek(out _, out float priority) ? priority : float.NegativeInfinity;

    private ReadOnlySpan<int> Links(int node, int level)
    {
        if (level == 0)
        {
            int at = node * (_m0 + 1);
            return _links0.AsSpan(at + 1, _links0[at]);
        }

        int[] links = _upperLinks[node][level - 1];
        return links.AsSpan(1, links[0]);
    }

    private void SetLinks(int node, int level, ReadOnlySpan<int> neighbours)
    {
        Span<int> target;
        if (level == 0)
        {
            int at = node * (_m0 + 1);
            _links0[at] = neighbours.Length;
            target = _links0.AsSpan(at + 1, _m0);
        }
        else
        {
            int[] links = _upperLinks[node][level - 1];
            links[0] = neighbours.Length;
            target = links.AsSpan(1);
        }

        neighbours.CopyTo(target);
    }

    private int Insert(long id, ReadOnlySpan<float> vector)
    {
        if (_count == _ids.Length)
        {
            Grow(_ids.Length * 2);
        }

        int node = _count;
        int level = (int)(-Math.Log(1 - _random.NextDouble()) * _levelMultiplier);
        vector.CopyTo(_vectors.AsSpan(node * _dimensions, _dimensions));
        _ids[node] = id;
        _levels[node] = level;
        _deleted[node] = false;
        _links0[node * (_m0 + 1)] = 0;
        _upperLinks[node] = new int[level][];
        for (int l = 0; l < level; l++)
        {
            _upperLinks[node][l] = new int[_m + 1];
        }

        _count++;
        if (_entry < 0)
        {
            _entry = node;
            _maxLevel = level;
            return node;
        }

        ReadOnlySpan<float> q = _vectors.AsSpan(node * _dimensions, _dimensions);
        int ep = DescendTo(q, Math.Min(level, _maxLevel));
        SearchScratch scratch = SearchScratch.ForThread();
        List<(int Node, float Similarity)> found = [];
        for (int l = Math.Min(level, _maxLevel); l >= 0; l--)
        {
            scratch.BeginSearch(_count);
            SearchLayer(q, ep, _efConstruction, l, scratch, skipDeleted: false);
            found.Clear();
            while (scratch.Results.TryDequeue(out int n, out float s))
            {
                found.Add((n, s));
            }

            found.Reverse(); // best first
            ep = found[0].Node;
            int[] selected = SelectNeighbours(found, l == 0 ? _m0 : _m);
            SetLinks(node, l, selected);
            foreach (int neighbour in selected)
            {
                Connect(neighbour, node, l);
            }
        }

        if (level > _maxLevel)
        {
            _entry = node;
            _maxLevel = level;
        }

        return node;
    }

    // Adds a back link, pruning the neighbour's list with the heuristic when it is full.
    private void Connect(int from, int to, int level)
    {
        int max = level == 0 ? _m0 : _m;
        ReadOnlySpan<int> current = Links(from, level);
        if (current.Length < max)
        {
            Span<int> grown = stackalloc int[current.Length + 1];
            current.CopyTo(grown);
            grown[^1] = to;
            SetLinks(from, level, grown);
            return;
        }

        List<(int Node, float Similarity)> candidates = new(current.Length + 1) { (to, Similarity(from, to)) };
        foreach (int n in current)
        {
            candidates.Add((n, Similarity(from, n)));
        }

        candidates.Sort(static (a, b) => b.Similarity.CompareTo(a.Similarity));
        SetLinks(from, level, SelectNeighbours(candidates, max));
    }

    // The heuristic: walk candidates best first, keep one only if it is closer to the base than to every one kept.
    private int[] SelectNeighbours(List<(int Node, float Similarity)> bestFirst, int max)
    {
        List<int> kept = new(max);
        foreach ((int candidate, float toBase) in bestFirst)
        {
            if (kept.Count >= max)
            {
                break;
            }

            bool good = true;
            foreach (int k in kept)
            {
                if (Similarity(candidate, k) > toBase)
                {
                    good = false;
                    break;
                }
            }

            if (good)
            {
                kept.Add(candidate);
            }
        }

        return [.. kept];
    }

    private void MarkDeleted(int node)
    {
        _deleted[node] = true;
        _deletedCount++;
    }

    // Rebuilds the graph from the live nodes once deleted ones outnumber them: searches stay as fast as the live size.
    private void CompactIfSparse()
    {
        if (_deletedCount < 64 || _deletedCount * 2 < _count)
        {
            return;
        }

        List<(long Id, float[] Vector)> live = new(_count - _deletedCount);
        for (int n = 0; n < _count; n++)
        {
            if (!_deleted[n])
            {
                live.Add((_ids[n], _vectors.AsSpan(n * _dimensions, _dimensions).ToArray()));
            }
        }

        _count = 0;
        _deletedCount = 0;
        _entry = -1;
        _maxLevel = -1;
        _nodeOfId.Clear();
        foreach ((long id, float[] vector) in live)
        {
            _nodeOfId[id] = Insert(id, vector);
        }
    }

    private void Grow(int capacity)
    {
        Array.Resize(ref _vectors, capacity * _dimensions);
        Array.Resize(ref _ids, capacity);
        Array.Resize(ref _levels, capacity);
        Array.Resize(ref _deleted, capacity);
        Array.Resize(ref _links0, capacity * (_m0 + 1));
        Array.Resize(ref _upperLinks, capacity);
    }

    // Per-thread search state: visited marks by generation (no clearing between searches) and the two heaps.
    private sealed class SearchScratch
    {
        [ThreadStatic]
        private static SearchScratch? t_current;

        private int[] _visited = new int[1024];
        private int _generation;

        public PriorityQueue<int, float> Candidates { get; } = new();

        public PriorityQueue<int, float> Results { get; } = new();

        public static SearchScratch ForThread() => t_current ??= new SearchScratch();

        public void BeginSearch(int nodes)
        {
            if (_visited.Length < nodes)
            {
                _visited = new int[Math.Max(nodes, _visited.Length * 2)];
                _generation = 0;
            }

            if (++_generation == int.MaxValue)
            {
                Array.Clear(_visited);
                _generation = 1;
            }
        }

        // Returns false when the node was already visited in this search.
        public bool Visit(int node)
        {
            if (_visited[node] == _generation)
            {
                return false;
            }

            _visited[node] = _generation;
            return true;
        }
    }
}

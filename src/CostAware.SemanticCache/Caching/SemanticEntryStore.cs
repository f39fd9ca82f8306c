namespace CostAware.SemanticCache.Internal;

// The local replica: entries by id, one vector index over every partition, least-recently-used order, expiry. Adds,
// removals and the LRU list are under one lock (they are rare next to the provider calls they follow); searches run
// on the index, which is safe for concurrent readers, and take the lock only to map ids back to entries.
internal sealed class SemanticEntryStore(SemanticIndexKind kind, int maxEntries) : IDisposable
{
    private readonly Lock _lock = new();
    private readonly Dictionary<long, SemanticEntry> _byId = [];
    private readonly Dictionary<string, SemanticEntry> _byRecordId = new(StringComparer.Ordinal);
    private readonly LinkedList<SemanticEntry> _lru = new();
    private IVectorIndex? _index;
    private long _nextId;
    private int _addsSinceSweep;

    public int Count
    {
        get
        {
            lock (_lock)
            {
                return _byId.Count;
            }
        }
    }

    public int? Dimensions => Volatile.Read(ref _index)?.Dimensions;

    public long NextId() => Interlocked.Increment(ref _nextId);

    // Adds an entry (replacing one with the same record id); returns how many entries were evicted to make room.
    public int Add(SemanticEntry entry, DateTimeOffset now)
    {
        lock (_lock)
        {
            IVectorIndex index = _index ??= CreateIndex(entry.Vector.Length);
            if (index.Dimensions != entry.Vector.Length)
            {
                throw new InvalidOperationException(
                    $"The embedding has {entry.Vector.Length} dimensions; this semantic cache holds {index.Dimensions}-dimensional embeddings. The embedding generator changed: clear the cache (InvalidateAllAsync) before switching models.");
            }

            if (_byRecordId.TryGetValue(entry.RecordId, out SemanticEntry? existing))
            {
                RemoveLocked(existing);
            }

            index.Add(entry.Partition, entry.Id, entry.Vector);
            _byId.Add(entry.Id, entry);
            _byRecordId[entry.RecordId] = entry;
            entry.Node = _lru.AddFirst(entry);

            int evicted = 0;
            if (++_addsSinceSweep >= 1024 || _byId.Count > maxEntries)
            {
                evicted += SweepExpiredLocked(now);
            }

            while (_byId.Count > maxEntries)
            {
                RemoveLocked(_lru.Last!.Value);
                evicted++;
            }

            return evicted;
        }
    }

    public bool Contains(string recordId)
    {
        lock (_lock)
        {
            return _byRecordId.ContainsKey(recordId);
        }
    }

    public SemanticEntry? Find(string recordId)
    {
        lock (_lock)
        {
            return _byRecordId.GetValueOrDefault(recordId);
        }
    }

    // The nearest live entries of a partition, best first, at most results.Length.
    public int Search(string partition, ReadOnlySpan<float> query, Span<(SemanticEntry Entry, float Similarity)> results, DateTimeOffset now)
    {
        IVectorIndex? index = Volatile.Read(ref _index);
        if (index is null || index.Dimensions != query.Length || results.IsEmpty)
        {
            return 0;
        }

        Span<VectorMatch> matches = stackalloc VectorMatch[Math.Min(results.Length, 64)];
        int found = index.Search(partition, query, matches);
        int written = 0;
        lock (_lock)
        {
            for (int i = 0; i < found; i++)
            {
                if (!_byId.TryGetValue(matches[i].Id, out SemanticEntry? entry))
                {
                    continue;
                }

                if (entry.ExpiresAt <= now)
                {
                    RemoveLocked(entry);
                    continue;
                }

                results[written++] = (entry, matches[i].Similarity);
            }
        }

        return written;
    }

    public void Touch(SemanticEntry entry)
    {
        lock (_lock)
        {
            if (entry.Node is { List: not null } node && node != _lru.First)
            {
                _lru.Remove(node);
                _lru.AddFirst(node);
            }
        }
    }

    // Removes a group's entries, or all entries when group is null; returns how many.
    public int RemoveGroup(string? group)
    {
        lock (_lock)
        {
            List<SemanticEntry> doomed = group is null ? [.. _byId.Values] : [.. _byId.Values.Where(e => e.Group == group)];
            foreach (SemanticEntry entry in doomed)
            {
                RemoveLocked(entry);
            }

            if (_byId.Count == 0 && _index is { } emptied)
            {
                // An empty cache holds no embeddings: the next entry may come from another embedding model.
                _index = null;
                emptied.Dispose();
            }

            return doomed.Count;
        }
    }

    // The live entries, most recently used first: what a snapshot holds.
    public List<SemanticEntry> LiveEntries(DateTimeOffset now)
    {
        lock (_lock)
        {
            List<SemanticEntry> live = new(_byId.Count);
            foreach (SemanticEntry entry in _lru)
            {
                if (entry.ExpiresAt > now)
                {
                    live.Add(entry);
                }
            }

            return live;
        }
    }

    // Replaces every entry at once (a restored snapshot), least recently used first so that the order survives.
    public void ReplaceAll(IReadOnlyList<SemanticEntry> entries, DateTimeOffset now)
    {
        IVectorIndex? fresh = entries.Count > 0 ? CreateIndex(entries[0].Vector.Length) : null;
        lock (_lock)
        {
            IVectorIndex? old = _index;
            _index = fresh;
            _byId.Clear();
            _byRecordId.Clear();
            _lru.Clear();
            old?.Dispose();
            for (int i = entries.Count - 1; i >= 0; i--)
            {
                _ = Add(entries[i], now);
            }
        }
    }

    public void Dispose()
    {
        lock (_lock)
        {
            _index?.Dispose();
            _index = null;
            _byId.Clear();
            _byRecordId.Clear();
            _lru.Clear();
        }
    }

    private int SweepExpiredLocked(DateTimeOffset now)
    {
        _addsSinceSweep = 0;
        List<SemanticEntry>? expired = null;
        foreach (SemanticEntry entry in _byId.Values)
        {
            if (entry.ExpiresAt <= now)
            {
                (expired ??= []).Add(entry);
            }
        }

        if (expired is not null)
        {
            foreach (SemanticEntry entry in expired)
            {
                RemoveLocked(entry);
            }
        }

        return expired?.Count ?? 0;
    }

    private void RemoveLocked(SemanticEntry entry)
    {
        if (_byId.Remove(entry.Id))
        {
            _ = _index?.Remove(entry.Partition, entry.Id);
            if (_byRecordId.TryGetValue(entry.RecordId, out SemanticEntry? current) && current == entry)
            {
                _ = _byRecordId.Remove(entry.RecordId);
            }

            if (entry.Node is { List: not null } node)
            {
                _lru.Remove(node);
            }
        }
    }

    private IVectorIndex CreateIndex(int dimensions) => kind switch
    {
        SemanticIndexKind.Quantized => new Int8VectorIndex(dimensions),
        SemanticIndexKind.Hnsw => new HnswVectorIndex(dimensions),
        _ => new FlatVectorIndex(dimensions),
    };
}

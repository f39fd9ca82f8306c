using System.Buffers;
using System.Collections.Concurrent;

namespace CostAware.SemanticCache.Internal;

// The partitions of an index by name, the total count, and the boundary check of every vector going in or coming
// as a query: the part each public index would otherwise repeat.
internal sealed class PartitionTable<TPartition>(int dimensions, Func<int, TPartition> create) : IDisposable
    where TPartition : IPartition
{
    private readonly ConcurrentDictionary<string, TPartition> _partitions = new(StringComparer.Ordinal);
    private int _count;

    public int Count => Volatile.Read(ref _count);

    public void Add(string partition, long id, ReadOnlySpan<float> vector)
    {
        ArgumentNullException.ThrowIfNull(partition);
        float[] normalized = Normalize(vector, nameof(vector));
        try
        {
            if (_partitions.GetOrAdd(partition, static (_, state) => state.create(state.dimensions), (create, dimensions)).Upsert(id, normalized.AsSpan(0, dimensions)))
            {
                _ = Interlocked.Increment(ref _count);
            }
        }
        finally
        {
            ArrayPool<float>.Shared.Return(normalized);
        }
    }

    public bool Remove(string partition, long id)
    {
        ArgumentNullException.ThrowIfNull(partition);
        if (_partitions.TryGetValue(partition, out TPartition? target) && target.Remove(id))
        {
            _ = Interlocked.Decrement(ref _count);
            return true;
        }

        return false;
    }

    public int Search(string partition, ReadOnlySpan<float> query, int candidates, Span<VectorMatch> results)
    {
        ArgumentNullException.ThrowIfNull(partition);
        float[] normalized = Normalize(query, nameof(query));
        try
        {
            int found = _partitions.TryGetValue(partition, out TPartition? target) && results.Length > 0
                ? target.Search(normalized, candidates, results)
                : 0;

            // Rounding can put the dot product of two unit vectors a hair outside [-1, 1]; the scale promises [-1, 1].
            for (int i = 0; i < found; i++)
            {
                results[i] = results[i] with { Similarity = Math.Clamp(results[i].Similarity, -1f, 1f) };
            }

            return found;
        }
        finally
        {
            ArrayPool<float>.Shared.Return(normalized);
        }
    }

    public void Dispose()
    {
        foreach (TPartition partition in _partitions.Values)
        {
            partition.Dispose();
        }

        _partitions.Clear();
    }

    // A rented buffer holding the checked, normalised vector in its first `dimensions` elements.
    private float[] Normalize(ReadOnlySpan<float> vector, string parameterName)
    {
        float[] normalized = ArrayPool<float>.Shared.Rent(dimensions);
        try
        {
            VectorChecks.Normalize(vector, dimensions, normalized.AsSpan(0, dimensions), parameterName);
            return normalized;
        }
        catch
        {
            ArrayPool<float>.Shared.Return(normalized);
            throw;
        }
    }
}

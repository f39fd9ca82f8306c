using System.Numerics.Tensors;
using CostAware.SemanticCache.Internal;

namespace CostAware;

/// <summary>
/// An exact vector index: each partition's unit vectors lie in one contiguous float32 array, and a search computes the
/// dot product of the query with every row (SIMD through <see cref="TensorPrimitives"/>), keeping the best k.
/// </summary>
/// <remarks>
/// Exact, so its results are the reference the approximate indexes are measured against. Large partitions are
/// scanned on several cores in many small parts (above 4 MB of vectors). Removal moves the partition's last row into the freed slot, so
/// storage stays dense. Thread-safe: searches of a partition run concurrently; an add or remove waits for them.
/// </remarks>
public sealed class FlatVectorIndex : IVectorIndex
{
    private readonly PartitionTable<FlatPartition> _table;

    /// <summary>Initializes a new instance of the <see cref="FlatVectorIndex"/> class.</summary>
    /// <param name="dimensions">The number of dimensions of every vector.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="dimensions"/> is not positive.</exception>
    public FlatVectorIndex(int dimensions)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(dimensions);
        Dimensions = dimensions;
        _table = new PartitionTable<FlatPartition>(dimensions, static d => new FlatPartition(d));
    }

    /// <inheritdoc />
    public int Dimensions { get; }

    /// <inheritdoc />
    public int Count => _table.Count;

    /// <inheritdoc />
    public void Add(string partition, long id, ReadOnlySpan<float> vector) => _table.Add(partition, id, vector);

    /// <inheritdoc />
    public bool Remove(string partition, long id) => _table.Remove(partition, id);

    /// <inheritdoc />
    public int Search(string partition, ReadOnlySpan<float> query, Span<VectorMatch> results) =>
        _table.Search(partition, query, results.Length, results);

    /// <summary>Releases the partitions' locks. The index must not be used afterwards.</summary>
    public void Dispose() => _table.Dispose();
}

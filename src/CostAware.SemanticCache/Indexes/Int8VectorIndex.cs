using CostAware.SemanticCache.Internal;

namespace CostAware;

/// <summary>
/// A scalar-quantised exact-after-re-ranking index: each unit vector is also kept as int8 codes (one scale per
/// vector), a search scans the codes (a quarter of the bytes of <see cref="FlatVectorIndex"/>) for the best candidates,
/// then re-ranks those candidates with their float32 vectors.
/// </summary>
/// <remarks>
/// The scan reads 1 byte per dimension instead of 4, so on partitions too large for the CPU caches it is bounded by a
/// quarter of the memory traffic. Memory use is 5 bytes per dimension (codes plus the floats kept for re-ranking).
/// With <c>candidatesPerResult</c> candidates re-ranked per requested result, the returned top k equal the exact
/// ones unless quantisation error reorders entries beyond the candidate list (see the recall tests). Thread-safe:
/// searches of a partition run concurrently; an add or remove waits for them.
/// </remarks>
public sealed class Int8VectorIndex : IVectorIndex
{
    private const int MinimumCandidates = 32;

    private readonly PartitionTable<Int8Partition> _table;
    private readonly int _candidatesPerResult;

    /// <summary>Initializes a new instance of the <see cref="Int8VectorIndex"/> class.</summary>
    /// <param name="dimensions">The number of dimensions of every vector.</param>
    /// <param name="candidatesPerResult">How many int8 candidates are re-ranked with float vectors per requested result (at least 32 in all).</param>
    /// <exception cref="ArgumentOutOfRangeException">An argument is not positive.</exception>
    public Int8VectorIndex(int dimensions, int candidatesPerResult = 4)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(dimensions);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(candidatesPerResult);
        Dimensions = dimensions;
        _candidatesPerResult = candidatesPerResult;
        _table = new PartitionTable<Int8Partition>(dimensions, static d => new Int8Partition(d));
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
        _table.Search(partition, query, Math.Max(MinimumCandidates, results.Length * _candidatesPerResult), results);

    /// <summary>Releases the partitions' locks. The index must not be used afterwards.</summary>
    public void Dispose() => _table.Dispose();
}

using CostAware.SemanticCache.Internal;

namespace CostAware;

/// <summary>
/// An approximate vector index: each partition is a hierarchical navigable small-world (HNSW) graph, searched in
/// time that grows with the logarithm of its size rather than linearly.
/// </summary>
/// <remarks>
/// <para>
/// For partitions of a hundred thousand entries and more, where an exact scan costs milliseconds. It may miss a true
/// nearest entry: <c>docs/semantic-cache.md</c> reports its recall against the exact <see cref="FlatVectorIndex"/> at
/// these defaults. Raise <c>efSearch</c> for recall, lower it for speed.
/// </para>
/// <para>
/// Inserting costs far more than into a flat index (a search per level), and a removed entry stays in the graph as a
/// router until removed entries outnumber live ones, when the partition is rebuilt. Thread-safe: searches of a
/// partition run concurrently; an add or remove waits for them.
/// </para>
/// </remarks>
public sealed class HnswVectorIndex : IVectorIndex
{
    private readonly PartitionTable<HnswPartition> _table;
    private readonly int _efSearch;

    /// <summary>Initializes a new instance of the <see cref="HnswVectorIndex"/> class.</summary>
    /// <param name="dimensions">The number of dimensions of every vector.</param>
    /// <param name="maxConnections">M: links per node on the upper levels (twice as many on level 0); 4–64.</param>
    /// <param name="efConstruction">The search breadth when inserting; at least <paramref name="maxConnections"/>.</param>
    /// <param name="efSearch">The search breadth when searching; a search of k results uses at least k.</param>
    /// <param name="seed">Seeds the random level of each node, for reproducible graphs.</param>
    /// <exception cref="ArgumentOutOfRangeException">A parameter is outside its range.</exception>
    public HnswVectorIndex(int dimensions, int maxConnections = 16, int efConstruction = 128, int efSearch = 100, int seed = 42)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(dimensions);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxConnections, 4);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(maxConnections, 64);
        ArgumentOutOfRangeException.ThrowIfLessThan(efConstruction, maxConnections);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(efSearch);
        Dimensions = dimensions;
        _efSearch = efSearch;
        _table = new PartitionTable<HnswPartition>(dimensions, d => new HnswPartition(d, maxConnections, efConstruction, seed));
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
        _table.Search(partition, query, _efSearch, results);

    /// <summary>Releases the partitions' locks. The index must not be used afterwards.</summary>
    public void Dispose() => _table.Dispose();
}

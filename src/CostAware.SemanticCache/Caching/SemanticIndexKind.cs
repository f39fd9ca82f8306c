namespace CostAware;

/// <summary>Which vector index holds the semantic cache's entries.</summary>
public enum SemanticIndexKind
{
    /// <summary>The exact float32 scan (<see cref="FlatVectorIndex"/>): the default, and the fastest up to tens of thousands of entries per partition.</summary>
    Flat = 0,

    /// <summary>The int8 scan with float re-ranking (<see cref="Int8VectorIndex"/>): a quarter of the memory traffic, the same top results.</summary>
    Quantized = 1,

    /// <summary>The HNSW graph (<see cref="HnswVectorIndex"/>): approximate, for partitions of a hundred thousand entries and more.</summary>
    Hnsw = 2,
}

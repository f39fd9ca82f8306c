namespace CostAware.SemanticCache.Internal;

// One partition of an index, as the partition table drives it. Vectors arrive checked and normalised.
internal interface IPartition : IDisposable
{
    // Returns true when the id was new to the partition.
    bool Upsert(long id, ReadOnlySpan<float> unitVector);

    bool Remove(long id);

    // query is the normalised query in a buffer of at least the index's dimensions; candidates is an index-specific
    // breadth (re-ranked candidates per result, or the HNSW search breadth).
    int Search(float[] query, int candidates, Span<VectorMatch> results);
}

namespace CostAware;

/// <summary>One result of a vector search: the entry's id and its cosine similarity to the query.</summary>
/// <param name="Id">The id the entry was added with.</param>
/// <param name="Similarity">Cosine similarity in [-1, 1]; higher is closer.</param>
public readonly record struct VectorMatch(long Id, float Similarity);

namespace CostAware;

/// <summary>
/// An in-process index of unit vectors, grouped into partitions, searched by cosine similarity within one partition.
/// </summary>
/// <remarks>
/// <para>
/// Similarity is cosine similarity in [-1, 1], higher = closer: vectors are normalised once when added, and a search
/// normalises its query, so the score is a dot product. A partition is an exact key (for the semantic cache: tenant,
/// model, system prompt, tools…); a search never crosses partitions.
/// </para>
/// <para>Implementations are safe for concurrent searches alongside adds and removes.</para>
/// </remarks>
public interface IVectorIndex : IDisposable
{
    /// <summary>Gets the number of dimensions every vector must have.</summary>
    int Dimensions { get; }

    /// <summary>Gets the number of entries in all partitions.</summary>
    int Count { get; }

    /// <summary>Adds an entry, or replaces the vector of an entry with the same id in the same partition.</summary>
    /// <param name="partition">The partition.</param>
    /// <param name="id">The entry's id, unique within the partition.</param>
    /// <param name="vector">The vector; it is copied and normalised.</param>
    /// <exception cref="ArgumentNullException"><paramref name="partition"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException">The vector has the wrong length, a NaN or infinite element, or zero length.</exception>
    void Add(string partition, long id, ReadOnlySpan<float> vector);

    /// <summary>Removes an entry.</summary>
    /// <param name="partition">The partition.</param>
    /// <param name="id">The entry's id.</param>
    /// <returns><see langword="true"/> when the entry was there.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="partition"/> is <see langword="null"/>.</exception>
    bool Remove(string partition, long id);

    /// <summary>Finds the entries of a partition most similar to a query, best first.</summary>
    /// <param name="partition">The partition to search.</param>
    /// <param name="query">The query vector; it is normalised for the search.</param>
    /// <param name="results">Receives up to its length matches, best first; its length is the k of top-k.</param>
    /// <returns>How many matches were written.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="partition"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException">The query has the wrong length, a NaN or infinite element, or zero length.</exception>
    int Search(string partition, ReadOnlySpan<float> query, Span<VectorMatch> results);
}

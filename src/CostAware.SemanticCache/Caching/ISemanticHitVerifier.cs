namespace CostAware;

/// <summary>
/// Confirms or rejects a semantic-cache hit after the similarity threshold and the guards have passed it: for
/// partitions where a wrong answer costs more than a provider call (<see cref="SemanticCacheOptions.VerifiedPartitions"/>).
/// </summary>
/// <remarks>
/// <see cref="ChatClientSemanticHitVerifier"/> asks a (cheap) model. A verifier that throws fails the lookup as a miss,
/// never the call. Implementations must be thread-safe.
/// </remarks>
public interface ISemanticHitVerifier
{
    /// <summary>Decides whether the stored answer may be served for the query.</summary>
    /// <param name="candidate">The query, the stored prompt and answer, and their similarity.</param>
    /// <param name="cancellationToken">The token to monitor for cancellation requests.</param>
    /// <returns><see langword="true"/> to serve the stored answer; <see langword="false"/> to treat the lookup as a miss.</returns>
    ValueTask<bool> VerifyAsync(SemanticHitCandidate candidate, CancellationToken cancellationToken);
}

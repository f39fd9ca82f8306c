namespace CostAware;

/// <summary>A stored answer that the semantic cache would serve for a query, as an <see cref="ISemanticHitVerifier"/> sees it.</summary>
/// <param name="Query">The user's text.</param>
/// <param name="CachedPrompt">The text the stored answer was given to.</param>
/// <param name="CachedAnswer">The stored answer's text.</param>
/// <param name="Similarity">The cosine similarity of the two texts' embeddings, in [-1, 1].</param>
/// <param name="Call">
/// The request's call context: a verifier that pays for a call sends it with <see cref="CostCallContext.Forward"/>, so
/// that its cost lands on the request's receipt and the request's budgets admit it.
/// </param>
public sealed record SemanticHitCandidate(string Query, string CachedPrompt, string CachedAnswer, float Similarity, CostCallContext Call);

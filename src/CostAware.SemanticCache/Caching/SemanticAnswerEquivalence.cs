namespace CostAware;

/// <summary>How the error-bounded semantic cache decides whether a stored answer and a fresh one are the same.</summary>
public enum SemanticAnswerEquivalence
{
    /// <summary>Equal after lower-casing, collapsing white space and trimming punctuation at the ends: right for short, deterministic answers (labels, ids, numbers, temperature-0 replies).</summary>
    NormalizedText,

    /// <summary>The two answers' embeddings (by the cache's embedder) are at least <see cref="SemanticCacheOptions.AnswerSimilarityThreshold"/> alike: for free-form answers.</summary>
    Embedding,

    /// <summary>
    /// No second provider call: the stage's <see cref="ISemanticHitVerifier"/> (for example a
    /// <see cref="ChatClientSemanticHitVerifier"/> over a cheap judge model) decides whether the stored answer serves the
    /// new text; a yes is served (and counted as a confirmation), a no goes to the provider (and counted as an error). The
    /// bound is then on the judge's verdicts, and each verification costs a judge call instead of a provider call.
    /// Needs a verifier.
    /// </summary>
    Judge,
}

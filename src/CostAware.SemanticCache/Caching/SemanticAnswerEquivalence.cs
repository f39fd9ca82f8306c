namespace CostAware;

/// <summary>How the error-bounded semantic cache decides whether a stored answer and a fresh one are the same.</summary>
public enum SemanticAnswerEquivalence
{
    /// <summary>Equal after lower-casing, collapsing white space and trimming punctuation at the ends: right for short, deterministic answers (labels, ids, numbers, temperature-0 replies).</summary>
    NormalizedText,

    /// <summary>The two answers' embeddings (by the cache's embedder) are at least <see cref="SemanticCacheOptions.AnswerSimilarityThreshold"/> alike: for free-form answers.</summary>
    Embedding,
}

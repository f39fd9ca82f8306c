using Microsoft.Extensions.Logging;

namespace CostAware.SemanticCache.Internal;

// The semantic cache's log events: ids 20-29 and 80-89.
internal static partial class Log
{
    [LoggerMessage(20, LogLevel.Debug, "Semantic cache hit at similarity {Similarity:F3} (model {ModelId}); {Avoided} avoided, {EmbeddingCost} spent on the embedding.")]
    public static partial void Hit(ILogger logger, float similarity, string? modelId, decimal? avoided, decimal embeddingCost);

    [LoggerMessage(21, LogLevel.Debug, "Semantic cache candidate at similarity {Similarity:F3} vetoed: {Reason}.")]
    public static partial void Vetoed(ILogger logger, float similarity, string reason);

    [LoggerMessage(22, LogLevel.Debug, "Semantic cache did not store the answer (model {ModelId}): {Reason}.")]
    public static partial void NotStored(ILogger logger, string? modelId, string reason);

    [LoggerMessage(23, LogLevel.Warning, "The semantic cache store failed; the entry stays in this process only.")]
    public static partial void StoreFailed(ILogger logger, Exception exception);

    [LoggerMessage(24, LogLevel.Warning, "A semantic cache entry from the store was skipped: {Reason}.")]
    public static partial void RecordSkipped(ILogger logger, string reason);

    [LoggerMessage(25, LogLevel.Warning, "The hit verifier failed; the lookup counts as a miss.")]
    public static partial void VerifierFailed(ILogger logger, Exception exception);

    [LoggerMessage(26, LogLevel.Information, "Semantic cache replica caught up: {Count} entries loaded from the store.")]
    public static partial void CaughtUp(ILogger logger, int count);

    [LoggerMessage(27, LogLevel.Warning, "The semantic cache could not reach its store at start-up; it serves this process's entries and will try again on a later call.")]
    public static partial void CatchUpFailed(ILogger logger, Exception exception);

    [LoggerMessage(28, LogLevel.Warning, "The embedding generator failed; the call goes to the provider uncached.")]
    public static partial void EmbeddingFailed(ILogger logger, Exception exception);

    [LoggerMessage(29, LogLevel.Warning,
        "The embedding generator returned {Dimensions} dimensions; this semantic cache holds {Held}-dimensional embeddings, so the embedding model changed. The call goes to the provider uncached; call InvalidateAllAsync to start over with the new model.")]
    public static partial void DimensionsChanged(ILogger logger, int dimensions, int held);

    [LoggerMessage(80, LogLevel.Debug, "Semantic cache verification at similarity {Similarity:F3}: the stored answer was {Verdict}; the learned threshold is now {Threshold:F3}.")]
    private static partial void VerifiedCore(ILogger logger, float similarity, string verdict, float threshold);

    public static void Verified(ILogger logger, float similarity, bool same, float threshold) =>
        VerifiedCore(logger, similarity, same ? "the same" : "different", threshold);

    [LoggerMessage(81, LogLevel.Information, "A semantic hit at similarity {Similarity:F3} was reported wrong (receipt {ReceiptId}); its entry is not served at that similarity again.")]
    public static partial void WrongHitReported(ILogger logger, System.Guid receiptId, float similarity);

    [LoggerMessage(82, LogLevel.Information,
        "The semantic cache embeds with the built-in lexical embedder, which matches shared words, not meaning: it finds few paraphrases (1-4 % of them in the evaluations). For a real sentence embedder offline, register one, e.g. AddCostAwareMiniLMEmbeddingGenerator() from CostAware.Onnx.MiniLM.")]
    public static partial void LexicalEmbedder(ILogger logger);
}

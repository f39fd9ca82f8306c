using Microsoft.Extensions.Logging;

namespace CostAware.Internal;

internal static partial class Log
{
    public const int UnpricedModelEventId = 1;
    public const int UsageEstimatedEventId = 2;
    public const int UsageWidenedEventId = 3;
    public const int LedgerFailedEventId = 4;
    public const int CallbackFailedEventId = 5;
    public const int UnknownModelThrownEventId = 6;
    public const int PromptCacheInvalidEntryEventId = 7;
    public const int PromptCacheNotStoredEventId = 8;
    public const int PromptCacheUnkeyableEventId = 9;
    public const int PromptCacheHitEventId = 10;
    public const int PromptCacheWriteFailedEventId = 11;
    public const int MeteringOutsideStageEventId = 12;

    [LoggerMessage(UnpricedModelEventId, LogLevel.Warning,
        "Model '{ModelId}' is not in the price catalog; its calls are recorded as unpriced (tokens counted, cost unknown). Add it under CostAware:Prices or load a price file.")]
    public static partial void UnpricedModel(ILogger logger, string modelId);

    [LoggerMessage(UsageEstimatedEventId, LogLevel.Debug,
        "The provider reported no usage for a call to '{ModelId}'; its tokens were estimated.")]
    public static partial void UsageEstimated(ILogger logger, string? modelId);

    [LoggerMessage(UsageWidenedEventId, LogLevel.Debug,
        "The provider's usage for '{ModelId}' counted cache or reasoning tokens outside their parent class; input or output was widened to include them.")]
    public static partial void UsageWidened(ILogger logger, string? modelId);

    [LoggerMessage(LedgerFailedEventId, LogLevel.Error,
        "Recording receipt {ReceiptId} ({Spent} USD) to the cost ledger failed; the response was still returned.")]
    public static partial void LedgerFailed(ILogger logger, Guid receiptId, decimal spent, Exception exception);

    [LoggerMessage(CallbackFailedEventId, LogLevel.Error,
        "The OnMetered callback threw for receipt {ReceiptId}; the response was still returned.")]
    public static partial void CallbackFailed(ILogger logger, Guid receiptId, Exception exception);

    [LoggerMessage(UnknownModelThrownEventId, LogLevel.Error,
        "Model '{ModelId}' is not in the price catalog and UnknownModelPolicy is Throw; the call used {InputTokens} input and {OutputTokens} output tokens.")]
    public static partial void UnknownModelThrown(ILogger logger, string? modelId, long inputTokens, long outputTokens);

    [LoggerMessage(PromptCacheInvalidEntryEventId, LogLevel.Warning,
        "A prompt-cache entry could not be read ({Reason}); it was treated as a miss and replaced.")]
    public static partial void PromptCacheInvalidEntry(ILogger logger, string reason);

    [LoggerMessage(PromptCacheNotStoredEventId, LogLevel.Debug,
        "An answer from '{ModelId}' was not stored in the prompt cache: {Reason}.")]
    public static partial void PromptCacheNotStored(ILogger logger, string? modelId, string reason);

    [LoggerMessage(PromptCacheUnkeyableEventId, LogLevel.Debug,
        "A request was passed through the prompt cache uncached: its options set a RawRepresentationFactory, or it holds content that cannot be serialised.")]
    public static partial void PromptCacheUnkeyable(ILogger logger);

    [LoggerMessage(PromptCacheHitEventId, LogLevel.Debug,
        "Prompt-cache hit for '{ModelId}': {Avoided} USD not spent.")]
    public static partial void PromptCacheHit(ILogger logger, string? modelId, decimal? avoided);

    [LoggerMessage(PromptCacheWriteFailedEventId, LogLevel.Warning,
        "Replacing an unreadable prompt-cache entry failed; the answer was still returned.")]
    public static partial void PromptCacheWriteFailed(ILogger logger, Exception exception);

    [LoggerMessage(MeteringOutsideStageEventId, LogLevel.Warning,
        "UseTokenMetering() sits outside another CostAware stage: a response already carried a receipt, which was adopted instead of metering the call again. Place UseTokenMetering() innermost, next to the provider client.")]
    public static partial void MeteringOutsideStage(ILogger logger);
}

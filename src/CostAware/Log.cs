using Microsoft.Extensions.Logging;

namespace CostAware.Internal;

internal static partial class Log
{
    public const int UsageEstimatedEventId = 2;
    public const int UsageWidenedEventId = 3;
    public const int CallbackFailedEventId = 5;
    public const int PromptCacheInvalidEntryEventId = 7;
    public const int PromptCacheNotStoredEventId = 8;
    public const int PromptCacheUnkeyableEventId = 9;
    public const int PromptCacheHitEventId = 10;
    public const int PromptCacheWriteFailedEventId = 11;
    public const int MeteringOutsideStageEventId = 12;
    public const int BudgetRefusedEventId = 30;
    public const int BudgetDegradedEventId = 31;
    public const int BudgetAllowedOverEventId = 32;
    public const int BudgetThresholdCrossedEventId = 33;
    public const int BudgetStoreFailedOpenEventId = 34;
    public const int BudgetStoreFailedClosedEventId = 35;
    public const int BudgetSettleFailedEventId = 36;
    public const int BudgetOverrunEventId = 37;
    public const int BudgetStreamStoppedEventId = 38;
    public const int BudgetUnpricedEventId = 39;
    public const int BudgetReconfigureFailedEventId = 40;
    public const int BudgetSettleRetriedEventId = 41;
    public const int BudgetSettledAtReservationEventId = 42;
    public const int BudgetUnmeteredEventId = 43;
    public const int CascadeEscalatedEventId = 70;
    public const int CascadeTierFailedEventId = 71;
    public const int CascadeTierMeteredEventId = 72;
    public const int CascadeScoringFailedEventId = 73;
    public const int ProviderCacheBreakerEventId = 91;

    [LoggerMessage(UsageEstimatedEventId, LogLevel.Debug,
        "The provider reported no usage for a call to '{ModelId}'; its tokens were estimated.")]
    public static partial void UsageEstimated(ILogger logger, string? modelId);

    [LoggerMessage(UsageWidenedEventId, LogLevel.Debug,
        "The provider's usage for '{ModelId}' counted cache or reasoning tokens outside their parent class; input or output was widened to include them.")]
    public static partial void UsageWidened(ILogger logger, string? modelId);

    [LoggerMessage(CallbackFailedEventId, LogLevel.Error,
        "The OnMetered callback threw for receipt {ReceiptId}; the response was still returned.")]
    public static partial void CallbackFailed(ILogger logger, Guid receiptId, Exception exception);

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

    [LoggerMessage(BudgetRefusedEventId, LogLevel.Warning,
        "Budget {Budget} ({Window}) refused a call: limit {Limit}, spent {Spent}, reserved {Reserved}, the call needed up to {Requested}; {Calls} calls so far.")]
    public static partial void BudgetRefused(ILogger logger, string budget, BudgetWindow window, decimal? limit, decimal spent, decimal reserved, decimal requested, long calls);

    [LoggerMessage(BudgetDegradedEventId, LogLevel.Information,
        "Budget {Budget} had no room for a call as asked; it went on degraded ({Action}).")]
    public static partial void BudgetDegraded(ILogger logger, string budget, BudgetAction action);

    [LoggerMessage(BudgetAllowedOverEventId, LogLevel.Warning,
        "Budget {Budget} has no room for a call; it was let through because the budget's Action is Allow.")]
    public static partial void BudgetAllowedOver(ILogger logger, string budget);

    [LoggerMessage(BudgetThresholdCrossedEventId, LogLevel.Information,
        "Budget {Budget} reached {Threshold} of its limit in this window: spent {Spent} of {Limit}.")]
    public static partial void BudgetThresholdCrossed(ILogger logger, string budget, double threshold, decimal spent, decimal? limit);

    [LoggerMessage(BudgetStoreFailedOpenEventId, LogLevel.Warning,
        "The budget store could not be reached; the call went through unchecked because StoreFailureMode is FailOpen.")]
    public static partial void BudgetStoreFailedOpen(ILogger logger, Exception exception);

    [LoggerMessage(BudgetStoreFailedClosedEventId, LogLevel.Error,
        "The budget store could not be reached; the call was refused because StoreFailureMode is FailClosed.")]
    public static partial void BudgetStoreFailedClosed(ILogger logger, Exception exception);

    [LoggerMessage(BudgetSettleFailedEventId, LogLevel.Error,
        "Settling {Amount} with the budget store failed; it is kept and retried until the store acknowledges it ({Pending} settlements pending).")]
    public static partial void BudgetSettleFailed(ILogger logger, decimal amount, int pending, Exception exception);

    [LoggerMessage(BudgetSettleRetriedEventId, LogLevel.Information,
        "The budget store is back: {Count} pending settlements were applied.")]
    public static partial void BudgetSettleRetried(ILogger logger, int count);

    [LoggerMessage(BudgetSettledAtReservationEventId, LogLevel.Warning,
        "A call's cost is not all on its receipt ({Reason}); its budgets count it at the {Reserved} it reserved.")]
    public static partial void BudgetSettledAtReservation(ILogger logger, string reason, decimal reserved);

    [LoggerMessage(BudgetUnmeteredEventId, LogLevel.Warning,
        "UseBudget() has no UseTokenMetering() inside it: provider calls beyond the first (cascade tiers, judges, retries) are not admitted one by one. Add UseTokenMetering() innermost.")]
    public static partial void BudgetUnmetered(ILogger logger);

    [LoggerMessage(BudgetOverrunEventId, LogLevel.Warning,
        "A call to {Model} cost {Actual}, more than the {Reserved} it reserved; the excess is counted and may take a budget over its limit.")]
    public static partial void BudgetOverrun(ILogger logger, string? model, decimal actual, decimal reserved);

    [LoggerMessage(BudgetStreamStoppedEventId, LogLevel.Warning,
        "Budget {Budget} had no room for more output; the stream was stopped after about {OutputTokens} output tokens.")]
    public static partial void BudgetStreamStopped(ILogger logger, string budget, long outputTokens);

    [LoggerMessage(BudgetUnpricedEventId, LogLevel.Warning,
        "A call under a budget goes to the model {Model}, which has no price: {Action}. Add it to the price catalog, or map a deployment name to a priced model with CostAware:ModelAliases.")]
    public static partial void BudgetUnpriced(ILogger logger, string? model, string action);

    [LoggerMessage(BudgetReconfigureFailedEventId, LogLevel.Error,
        "The reloaded budget configuration is not valid; the budgets in force are kept.")]
    public static partial void BudgetReconfigureFailed(ILogger logger, Exception exception);

    [LoggerMessage(CascadeEscalatedEventId, LogLevel.Debug,
        "Cascade tier {Tier} scored {Score} (needs {Threshold}): {Reason}; escalating.")]
    public static partial void CascadeEscalated(ILogger logger, int tier, double score, double threshold, string reason);

    [LoggerMessage(CascadeTierFailedEventId, LogLevel.Warning,
        "Cascade tier {Tier} ({Model}) failed; moving to the next tier.")]
    public static partial void CascadeTierFailed(ILogger logger, int tier, string? model, Exception exception);

    [LoggerMessage(CascadeTierMeteredEventId, LogLevel.Information,
        "Cascade tier {Tier} calls a client with no metering stage inside; the cascade meters its calls itself so that they are priced on the receipt and admitted by the budgets.")]
    public static partial void CascadeTierMetered(ILogger logger, int tier);

    [LoggerMessage(CascadeScoringFailedEventId, LogLevel.Warning,
        "Scoring cascade tier {Tier}'s answer failed; the answer is not served and the request escalates.")]
    public static partial void CascadeScoringFailed(ILogger logger, int tier, Exception exception);

    [LoggerMessage(ProviderCacheBreakerEventId, LogLevel.Warning,
        "A long prompt start changes between calls only in a {Length}-character span at offset {Offset} (of {TextLength}): the provider cannot reuse its cache for anything after it. Move the changing part (a date, an id, a name) to the end of the prompt or into the last message. Reported once per prompt family.")]
    public static partial void ProviderCacheBreaker(ILogger logger, int offset, int length, int textLength);
}

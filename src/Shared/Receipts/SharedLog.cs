using Microsoft.Extensions.Logging;

namespace CostAware.Shared;

// The log events of the code every CostAware package compiles in (pricing, ledger recording): the same ids and
// messages whichever package logs them.
internal static partial class SharedLog
{
    public const int UnpricedModelEventId = 1;
    public const int LedgerFailedEventId = 4;
    public const int UnknownModelThrownEventId = 6;
    public const int ReportedCostIgnoredEventId = 13;

    [LoggerMessage(UnpricedModelEventId, LogLevel.Warning,
        "Model '{ModelId}' is not in the price catalog; its calls are recorded as unpriced (tokens counted, cost unknown). Add it under CostAware:Prices or load a price file.")]
    public static partial void UnpricedModel(ILogger logger, string modelId);

    [LoggerMessage(LedgerFailedEventId, LogLevel.Error,
        "Recording receipt {ReceiptId} ({Spent} USD) to the cost ledger failed; the response was still returned.")]
    public static partial void LedgerFailed(ILogger logger, Guid receiptId, decimal spent, Exception exception);

    [LoggerMessage(UnknownModelThrownEventId, LogLevel.Error,
        "Model '{ModelId}' is not in the price catalog and UnknownModelPolicy is Throw; the call used {InputTokens} input and {OutputTokens} output tokens.")]
    public static partial void UnknownModelThrown(ILogger logger, string? modelId, long inputTokens, long outputTokens);

    [LoggerMessage(ReportedCostIgnoredEventId, LogLevel.Warning,
        "The response for '{ModelId}' reported a cost under costaware.reported_cost that is not a finite, non-negative number ({Value}); the call is priced from the catalog.")]
    public static partial void ReportedCostIgnored(ILogger logger, string? modelId, string? value);
}

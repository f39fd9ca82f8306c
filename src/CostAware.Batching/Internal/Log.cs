using Microsoft.Extensions.Logging;

namespace CostAware.Internal.Batching;

internal static partial class Log
{
    public const int EnqueuedEventId = 50;
    public const int SubmittedEventId = 51;
    public const int SubmitFailedEventId = 52;
    public const int PollFailedEventId = 53;
    public const int RecoveredEventId = 54;
    public const int RequeuedEventId = 55;
    public const int MalformedLineEventId = 56;
    public const int CollectedEventId = 57;
    public const int HandlerFailedEventId = 58;
    public const int SentSynchronouslyEventId = 59;
    public const int SchedulerFailedEventId = 60;
    public const int ResultWithoutUsageEventId = 61;

    [LoggerMessage(EnqueuedEventId, LogLevel.Debug, "A call to {Model} was deferred to the {Provider} batch API.")]
    public static partial void Enqueued(ILogger logger, string provider, string model);

    [LoggerMessage(SubmittedEventId, LogLevel.Information, "Submitted {Provider} batch {BatchId} with {Count} calls.")]
    public static partial void Submitted(ILogger logger, string provider, string batchId, int count);

    [LoggerMessage(SubmitFailedEventId, LogLevel.Warning,
        "Submitting a {Provider} batch of {Count} calls failed; the next pass checks whether the provider created it before queuing the calls again.")]
    public static partial void SubmitFailed(ILogger logger, string provider, int count, Exception exception);

    [LoggerMessage(PollFailedEventId, LogLevel.Warning, "Polling {Provider} batch {BatchId} failed; it is polled again on the next pass.")]
    public static partial void PollFailed(ILogger logger, string provider, string? batchId, Exception exception);

    [LoggerMessage(RecoveredEventId, LogLevel.Information, "Found {Provider} batch {BatchId}, created before a restart, and resumed it.")]
    public static partial void Recovered(ILogger logger, string provider, string batchId);

    [LoggerMessage(RequeuedEventId, LogLevel.Information, "A {Provider} batch of {Count} calls was never created; its calls are queued again.")]
    public static partial void Requeued(ILogger logger, string provider, int count);

    [LoggerMessage(MalformedLineEventId, LogLevel.Warning, "{Provider} batch {BatchId} returned a line that could not be read: {Detail}")]
    public static partial void MalformedLine(ILogger logger, string provider, string? batchId, string? detail);

    [LoggerMessage(CollectedEventId, LogLevel.Information, "{Provider} batch {BatchId} ended {Status}: {Answered} results for {Calls} calls.")]
    public static partial void Collected(ILogger logger, string provider, string? batchId, string status, int answered, int calls);

    [LoggerMessage(HandlerFailedEventId, LogLevel.Error, "The deferred-result handler failed for call {Ticket}; it is called again on the next pass.")]
    public static partial void HandlerFailed(ILogger logger, string ticket, Exception exception);

    [LoggerMessage(SentSynchronouslyEventId, LogLevel.Debug, "A deferrable call to {Model} was sent synchronously: {Reason}.")]
    public static partial void SentSynchronously(ILogger logger, string? model, string reason);

    [LoggerMessage(SchedulerFailedEventId, LogLevel.Error, "A batch scheduler pass failed; the next pass retries.")]
    public static partial void SchedulerFailed(ILogger logger, Exception exception);

    [LoggerMessage(ResultWithoutUsageEventId, LogLevel.Warning,
        "The batch result of call {Ticket} ({Model}) reports no usage; it is billed at estimated tokens and marked as estimated.")]
    public static partial void ResultWithoutUsage(ILogger logger, string ticket, string? model);
}

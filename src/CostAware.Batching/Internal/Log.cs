using Microsoft.Extensions.Logging;

namespace CostAware.Batching.Internal;

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
    public const int UnreadableResultEventId = 62;
    public const int DeliveryFailedEventId = 63;
    public const int QueueFileRestoredEventId = 64;
    public const int QueueOpenedEventId = 65;
    public const int SchedulerRecoveredEventId = 66;

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

    [LoggerMessage(SchedulerFailedEventId, LogLevel.Error, "A batch scheduler pass failed; passes are retried with backoff, and the same failure is not logged again until it changes.")]
    public static partial void SchedulerFailed(ILogger logger, Exception exception);

    [LoggerMessage(ResultWithoutUsageEventId, LogLevel.Warning,
        "The batch result of call {Ticket} ({Model}) reports no usage; it is billed at estimated tokens and marked as estimated.")]
    public static partial void ResultWithoutUsage(ILogger logger, string ticket, string? model);

    [LoggerMessage(UnreadableResultEventId, LogLevel.Warning, "The batch result of call {Ticket} could not be read; that call fails, the others are delivered.")]
    public static partial void UnreadableResult(ILogger logger, string ticket, Exception exception);

    [LoggerMessage(DeliveryFailedEventId, LogLevel.Warning, "Call {Ticket} could not be delivered in this pass; it is tried again on the next.")]
    public static partial void DeliveryFailed(ILogger logger, string ticket, Exception exception);

    [LoggerMessage(QueueFileRestoredEventId, LogLevel.Error,
        "The deferral queue file {Path} was deleted while the app was running; it was restored from the open handle with every accepted call. Do not delete it while the app runs.")]
    public static partial void QueueFileRestored(ILogger logger, string path);

    [LoggerMessage(QueueOpenedEventId, LogLevel.Information, "Deferred calls are queued in {Path}.")]
    public static partial void QueueOpened(ILogger logger, string path);

    [LoggerMessage(SchedulerRecoveredEventId, LogLevel.Information, "The batch scheduler works again after failed passes.")]
    public static partial void SchedulerRecovered(ILogger logger);
}

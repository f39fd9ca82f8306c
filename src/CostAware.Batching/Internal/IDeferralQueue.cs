namespace CostAware.Internal.Batching;

// The durable queue of deferred calls: a SQLite file for one machine, Redis for several. Every state change is
// conditional on the state the caller expects, so that no call is taken, submitted, answered or delivered twice, even
// by two schedulers at once.
internal interface IDeferralQueue : IDisposable
{
    Task EnqueueAsync(DeferredCall call, CancellationToken cancellationToken);

    // The queued calls of one provider endpoint, oldest first, up to a count and a total body size (at least one).
    Task<IReadOnlyList<DeferredCall>> PeekQueuedAsync(string provider, string endpoint, int maxCount, long maxBytes, CancellationToken cancellationToken);

    // The provider endpoints that have queued calls, with the count, the oldest call's time and the earliest deadline.
    Task<IReadOnlyList<QueuedGroup>> QueuedGroupsAsync(CancellationToken cancellationToken);

    // Records the batch and takes the calls still queued into it, atomically; returns the ids taken.
    Task<IReadOnlyList<string>> BeginBatchAsync(string batchId, string provider, string endpoint, IReadOnlyList<string> callIds, DateTimeOffset now, CancellationToken cancellationToken);

    Task MarkSubmittedAsync(string batchId, string providerBatchId, CancellationToken cancellationToken);

    // The provider never received the batch: its calls go back to the queue, and the batch is closed.
    Task AbandonBatchAsync(string batchId, CancellationToken cancellationToken);

    // Stores a taken or submitted call's outcome; false when it already has one.
    Task<bool> CompleteAsync(string callId, byte[]? result, string? error, CancellationToken cancellationToken);

    Task<bool> RequeueAsync(string callId, CancellationToken cancellationToken);

    Task<bool> MarkDeliveredAsync(string callId, CancellationToken cancellationToken);

    Task MarkBatchDoneAsync(string batchId, CancellationToken cancellationToken);

    Task SchedulePollAsync(string batchId, DateTimeOffset next, CancellationToken cancellationToken);

    Task<IReadOnlyList<OpenBatch>> OpenBatchesAsync(CancellationToken cancellationToken);

    Task<DeferredCall?> GetAsync(string callId, CancellationToken cancellationToken);

    Task<IReadOnlyList<DeferredCall>> CallsInStateAsync(DeferredCallState state, string? batchId, CancellationToken cancellationToken);
}

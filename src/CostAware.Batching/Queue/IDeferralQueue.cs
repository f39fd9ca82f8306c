using System.Diagnostics.CodeAnalysis;

namespace CostAware;

/// <summary>
/// The durable queue of deferred calls: a SQLite file for one machine (the default), Redis for several, or a store of
/// your own. The batch scheduler records every step of a call's life here before it takes the next one.
/// </summary>
/// <remarks>
/// Every state change is conditional on the state the caller expects (queued, taken into a batch, submitted, answered,
/// delivered), so that no call is taken, submitted, answered or delivered twice, even by two schedulers at once; a
/// call written by <see cref="EnqueueAsync"/> must survive a crash once the task completes. Implementations are
/// thread-safe.
/// </remarks>
[Experimental("CAEXP001")]
[SuppressMessage("Naming", "CA1711:Identifiers should not have incorrect suffix", Justification = "It is a queue: calls wait in it, in order, for a batch.")]
public interface IDeferralQueue : IDisposable
{
    /// <summary>Writes an accepted call, durably.</summary>
    /// <param name="deferredCall">The call, queued.</param>
    /// <param name="cancellationToken">Cancels the write.</param>
    /// <returns>A task that completes once the call is stored.</returns>
    Task EnqueueAsync(DeferredCall deferredCall, CancellationToken cancellationToken);

    /// <summary>Gets the queued calls of one provider endpoint, oldest first, up to a count and a total body size (at least one).</summary>
    /// <param name="provider">The provider.</param>
    /// <param name="endpoint">The provider's endpoint.</param>
    /// <param name="maxCount">The most calls.</param>
    /// <param name="maxBytes">The most body bytes in all.</param>
    /// <param name="cancellationToken">Cancels the read.</param>
    /// <returns>The calls.</returns>
    Task<IReadOnlyList<DeferredCall>> PeekQueuedAsync(string provider, string endpoint, int maxCount, long maxBytes, CancellationToken cancellationToken);

    /// <summary>Gets the provider endpoints that have queued calls, with the count, the oldest call's time and the earliest deadline.</summary>
    /// <param name="cancellationToken">Cancels the read.</param>
    /// <returns>One group per endpoint.</returns>
    Task<IReadOnlyList<QueuedGroup>> QueuedGroupsAsync(CancellationToken cancellationToken);

    /// <summary>Records a batch being built and takes into it the calls still queued, atomically.</summary>
    /// <param name="batchId">CostAware's id of the batch.</param>
    /// <param name="provider">The provider.</param>
    /// <param name="endpoint">The provider's endpoint.</param>
    /// <param name="callIds">The calls to take.</param>
    /// <param name="now">Now.</param>
    /// <param name="cancellationToken">Cancels the write.</param>
    /// <returns>The ids actually taken.</returns>
    Task<IReadOnlyList<string>> BeginBatchAsync(string batchId, string provider, string endpoint, IReadOnlyList<string> callIds, DateTimeOffset now, CancellationToken cancellationToken);

    /// <summary>Records that the provider holds a batch, under its own id.</summary>
    /// <param name="batchId">CostAware's id of the batch.</param>
    /// <param name="providerBatchId">The provider's id.</param>
    /// <param name="cancellationToken">Cancels the write.</param>
    /// <returns>A task that completes once it is stored.</returns>
    Task MarkSubmittedAsync(string batchId, string providerBatchId, CancellationToken cancellationToken);

    /// <summary>The provider never received a batch: its calls go back to the queue, and the batch is closed.</summary>
    /// <param name="batchId">CostAware's id of the batch.</param>
    /// <param name="cancellationToken">Cancels the write.</param>
    /// <returns>A task that completes once it is stored.</returns>
    Task AbandonBatchAsync(string batchId, CancellationToken cancellationToken);

    /// <summary>Stores a taken or submitted call's outcome.</summary>
    /// <param name="callId">The call.</param>
    /// <param name="result">The provider's result body, or <see langword="null"/> when it failed.</param>
    /// <param name="failure">Why it failed, or <see langword="null"/>.</param>
    /// <param name="cancellationToken">Cancels the write.</param>
    /// <returns><see langword="false"/> when the call already has an outcome.</returns>
    Task<bool> CompleteAsync(string callId, byte[]? result, string? failure, CancellationToken cancellationToken);

    /// <summary>Puts a submitted call back in the queue (its batch expired or was cancelled).</summary>
    /// <param name="callId">The call.</param>
    /// <param name="cancellationToken">Cancels the write.</param>
    /// <returns><see langword="false"/> when the call was not in a batch.</returns>
    Task<bool> RequeueAsync(string callId, CancellationToken cancellationToken);

    /// <summary>Records that an answered call was delivered.</summary>
    /// <param name="callId">The call.</param>
    /// <param name="cancellationToken">Cancels the write.</param>
    /// <returns><see langword="false"/> when it was delivered already.</returns>
    Task<bool> MarkDeliveredAsync(string callId, CancellationToken cancellationToken);

    /// <summary>Closes a batch.</summary>
    /// <param name="batchId">CostAware's id of the batch.</param>
    /// <param name="cancellationToken">Cancels the write.</param>
    /// <returns>A task that completes once it is stored.</returns>
    Task MarkBatchDoneAsync(string batchId, CancellationToken cancellationToken);

    /// <summary>Sets when a batch is polled next, and counts the poll.</summary>
    /// <param name="batchId">CostAware's id of the batch.</param>
    /// <param name="nextPollAt">When to poll next.</param>
    /// <param name="cancellationToken">Cancels the write.</param>
    /// <returns>A task that completes once it is stored.</returns>
    Task SchedulePollAsync(string batchId, DateTimeOffset nextPollAt, CancellationToken cancellationToken);

    /// <summary>Gets the batches not yet done: submitted ones to poll, and ones a crash left between taken and submitted.</summary>
    /// <param name="cancellationToken">Cancels the read.</param>
    /// <returns>The open batches.</returns>
    Task<IReadOnlyList<OpenBatch>> OpenBatchesAsync(CancellationToken cancellationToken);

    /// <summary>Gets a call by id.</summary>
    /// <param name="callId">The call.</param>
    /// <param name="cancellationToken">Cancels the read.</param>
    /// <returns>The call, or <see langword="null"/>.</returns>
    Task<DeferredCall?> GetAsync(string callId, CancellationToken cancellationToken);

    /// <summary>Gets the calls in one state, optionally of one batch.</summary>
    /// <param name="state">The state.</param>
    /// <param name="batchId">The batch, or <see langword="null"/> for all.</param>
    /// <param name="cancellationToken">Cancels the read.</param>
    /// <returns>The calls.</returns>
    Task<IReadOnlyList<DeferredCall>> CallsInStateAsync(DeferredCallState state, string? batchId, CancellationToken cancellationToken);
}

/// <summary>The queued calls of one provider endpoint.</summary>
/// <param name="Provider">The provider.</param>
/// <param name="Endpoint">The provider's endpoint.</param>
/// <param name="Count">How many calls are queued.</param>
/// <param name="Oldest">When the oldest was accepted.</param>
/// <param name="EarliestDeadline">The earliest deadline among them, or <see langword="null"/>.</param>
[Experimental("CAEXP001")]
public readonly record struct QueuedGroup(string Provider, string Endpoint, int Count, DateTimeOffset Oldest, DateTimeOffset? EarliestDeadline);

/// <summary>A batch not yet done.</summary>
/// <param name="Id">CostAware's id of the batch.</param>
/// <param name="Provider">The provider.</param>
/// <param name="Endpoint">The provider's endpoint.</param>
/// <param name="ProviderBatchId">The provider's id, or <see langword="null"/> while it is not known to have been created.</param>
/// <param name="CreatedAt">When the batch was begun.</param>
/// <param name="NextPollAt">When it is polled next.</param>
/// <param name="PollCount">How many times it was polled.</param>
[Experimental("CAEXP001")]
public readonly record struct OpenBatch(string Id, string Provider, string Endpoint, string? ProviderBatchId, DateTimeOffset CreatedAt, DateTimeOffset NextPollAt, int PollCount);

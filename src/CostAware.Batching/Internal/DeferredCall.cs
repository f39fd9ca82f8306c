namespace CostAware.Internal.Batching;

// Where a deferred call is in its life. Each step is written to the queue before the next one starts, so that a
// process that dies anywhere resumes from the last step it recorded:
// Queued -> Submitting (taken into a batch being built) -> Submitted (the provider holds it) -> Completed or Failed
// (its result is stored) -> Delivered (the caller or a handler has it).
internal enum DeferredCallState
{
    Queued = 0,
    Submitting = 1,
    Submitted = 2,
    Completed = 3,
    Failed = 4,
    Delivered = 5,
}

// One call waiting for, or answered by, a provider batch. Body is the provider's own request body, as its SDK wrote it;
// Result is the provider's own result for the call (a response body or an error), as the batch returned it.
internal sealed record class DeferredCall
{
    public required string Id { get; init; }

    public required string Provider { get; init; }

    public required string Endpoint { get; init; }

    public string? ModelId { get; init; }

    public required byte[] Body { get; init; }

    public string? Scope { get; init; }

    public required DateTimeOffset CreatedAt { get; init; }

    public DateTimeOffset? Deadline { get; init; }

    public DeferredCallState State { get; init; }

    public string? BatchId { get; init; }

    public byte[]? Result { get; init; }

    public string? Error { get; init; }

    public int Attempts { get; init; }

    // How the answer is delivered, and which node (NodeName) accepted an awaited call: a handler on another machine
    // must not take an answer that a caller there is waiting for.
    public DeferralDelivery Delivery { get; init; }

    public string? Owner { get; init; }
}

using System.Diagnostics.CodeAnalysis;

namespace CostAware;

/// <summary>
/// Where a deferred call is in its life. Each step is written to the queue before the next one starts, so that a
/// process that dies anywhere resumes from the last step it recorded.
/// </summary>
[Experimental("CAEXP001")]
public enum DeferredCallState
{
    /// <summary>Accepted, waiting for a batch.</summary>
    Queued = 0,

    /// <summary>Taken into a batch being built; the provider may or may not hold it.</summary>
    Submitting = 1,

    /// <summary>The provider holds it.</summary>
    Submitted = 2,

    /// <summary>Its answer is stored.</summary>
    Completed = 3,

    /// <summary>It failed; the reason is stored.</summary>
    Failed = 4,

    /// <summary>The caller or a handler has its outcome.</summary>
    Delivered = 5,
}

/// <summary>One call waiting for, or answered by, a provider batch.</summary>
[Experimental("CAEXP001")]
public sealed record class DeferredCall
{
    /// <summary>Gets the call's id, its ticket.</summary>
    public required string Id { get; init; }

    /// <summary>Gets the provider (as the price catalog names it).</summary>
    public required string Provider { get; init; }

    /// <summary>Gets the provider's endpoint the call is batched for.</summary>
    public required string Endpoint { get; init; }

    /// <summary>Gets the model, or <see langword="null"/>.</summary>
    public string? ModelId { get; init; }

    /// <summary>Gets the provider's own request body, as its SDK wrote it.</summary>
    public required byte[] Body { get; init; }

    /// <summary>Gets the call's cost scope, as JSON, or <see langword="null"/>.</summary>
    public string? Scope { get; init; }

    /// <summary>Gets when the call was accepted.</summary>
    public required DateTimeOffset CreatedAt { get; init; }

    /// <summary>Gets the deadline, or <see langword="null"/> for none.</summary>
    public DateTimeOffset? Deadline { get; init; }

    /// <summary>Gets where the call is in its life.</summary>
    public DeferredCallState State { get; init; }

    /// <summary>Gets CostAware's id of the batch that holds the call, or <see langword="null"/>.</summary>
    public string? BatchId { get; init; }

    /// <summary>Gets the provider's own result for the call (a response body), as the batch returned it, or <see langword="null"/>.</summary>
    public byte[]? Result { get; init; }

    /// <summary>Gets why the call failed, or <see langword="null"/>.</summary>
    public string? Error { get; init; }

    /// <summary>Gets how many batches the call has been taken into.</summary>
    public int Attempts { get; init; }

    /// <summary>Gets how the answer is delivered.</summary>
    public DeferralDelivery Delivery { get; init; }

    /// <summary>Gets the node (<c>NodeName</c>) that accepted an awaited call: a handler on another machine must not take an answer a caller there waits for.</summary>
    public string? Owner { get; init; }
}

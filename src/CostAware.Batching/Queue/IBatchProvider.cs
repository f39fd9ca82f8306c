using System.Diagnostics.CodeAnalysis;
using Microsoft.Extensions.AI;

namespace CostAware;

/// <summary>
/// One provider's batch API, as the batch scheduler uses it. <c>CostAware.Batching.OpenAI</c> and
/// <c>CostAware.Batching.Anthropic</c> implement it through the providers' official SDKs; an app references the one it
/// needs.
/// </summary>
/// <remarks>
/// <see cref="Name"/> matches the price catalog's provider of a model (<c>openai</c>, <c>anthropic</c>): that is how a
/// deferred call finds its provider. Implementations are thread-safe.
/// </remarks>
[Experimental("CAEXP001")]
public interface IBatchProvider
{
    /// <summary>Gets the provider's name, as the price catalog names it.</summary>
    string Name { get; }

    /// <summary>Gets the endpoint whose requests a batch carries (one per batch).</summary>
    string Endpoint { get; }

    /// <summary>Gets the most requests the provider accepts in one batch.</summary>
    int MaxRequests { get; }

    /// <summary>Gets the most bytes the provider accepts in one batch.</summary>
    long MaxBytes { get; }

    /// <summary>Writes the provider's own request body for a call, as its SDK would send it synchronously.</summary>
    /// <param name="modelId">The model.</param>
    /// <param name="messages">The call's messages.</param>
    /// <param name="options">The call's options.</param>
    /// <param name="cancellationToken">Cancels the work.</param>
    /// <returns>The request body.</returns>
    Task<byte[]> BuildRequestAsync(string modelId, IEnumerable<ChatMessage> messages, ChatOptions? options, CancellationToken cancellationToken);

    /// <summary>Reads a call's result body back into the response the synchronous call would have returned.</summary>
    /// <param name="modelId">The model.</param>
    /// <param name="body">The provider's result body.</param>
    /// <param name="cancellationToken">Cancels the work.</param>
    /// <returns>The response.</returns>
    Task<ChatResponse> ReadResponseAsync(string modelId, byte[] body, CancellationToken cancellationToken);

    /// <summary>Creates a provider batch for the calls. Called once per batch and never retried: a create whose answer was lost may have created the batch.</summary>
    /// <param name="batchId">CostAware's id of the batch, for <see cref="FindAsync"/> to recognise it by.</param>
    /// <param name="calls">The calls.</param>
    /// <param name="cancellationToken">Cancels the work.</param>
    /// <returns>The provider's id of the batch.</returns>
    Task<string> SubmitAsync(string batchId, IReadOnlyList<DeferredCall> calls, CancellationToken cancellationToken);

    /// <summary>Finds the provider batch a failed or interrupted create may have made.</summary>
    /// <param name="batchId">CostAware's id of the batch.</param>
    /// <param name="calls">The calls that were being submitted.</param>
    /// <param name="cancellationToken">Cancels the work.</param>
    /// <returns>The provider's id, or <see langword="null"/> when the provider holds no such batch.</returns>
    Task<string?> FindAsync(string batchId, IReadOnlyList<DeferredCall> calls, CancellationToken cancellationToken);

    /// <summary>Gets a batch's status, in one request (the scheduler backs off between polls).</summary>
    /// <param name="providerBatchId">The provider's id of the batch.</param>
    /// <param name="cancellationToken">Cancels the work.</param>
    /// <returns>The status.</returns>
    Task<ProviderBatchStatus> GetStatusAsync(string providerBatchId, CancellationToken cancellationToken);

    /// <summary>Reads every result of a batch that ended.</summary>
    /// <param name="providerBatchId">The provider's id of the batch.</param>
    /// <param name="status">The status the batch ended with.</param>
    /// <param name="cancellationToken">Cancels the work.</param>
    /// <returns>One result per line the provider returned.</returns>
    Task<IReadOnlyList<ProviderLineResult>> ReadResultsAsync(string providerBatchId, ProviderBatchStatus status, CancellationToken cancellationToken);

    /// <summary>Gets a value indicating whether a failure of a read (status, results) is worth retrying at once.</summary>
    /// <param name="exception">The failure.</param>
    /// <returns><see langword="true"/> for a transient failure (a 429 or 5xx answer, a dropped connection).</returns>
    bool IsTransient(Exception exception);
}

/// <summary>A provider batch's state.</summary>
/// <param name="Status">The provider's own status word.</param>
/// <param name="IsTerminal">Whether it will change no more.</param>
/// <param name="OutputFileId">Where the answers are (OpenAI), or <see langword="null"/>.</param>
/// <param name="ErrorFileId">Where the errors are (OpenAI), or <see langword="null"/>.</param>
/// <param name="Errors">Why the batch as a whole failed, or <see langword="null"/>.</param>
[Experimental("CAEXP001")]
public readonly record struct ProviderBatchStatus(string Status, bool IsTerminal, string? OutputFileId = null, string? ErrorFileId = null, string? Errors = null);

/// <summary>One call's outcome in a batch: its response body, or an error.</summary>
/// <param name="CustomId">The call's id, or <see langword="null"/> for a line that could not be read.</param>
/// <param name="Body">The provider's response body, or <see langword="null"/>.</param>
/// <param name="Error">Why the call failed, or <see langword="null"/>.</param>
/// <param name="Malformed">Whether the line could not be read at all (logged and skipped).</param>
[Experimental("CAEXP001")]
public readonly record struct ProviderLineResult(string? CustomId, byte[]? Body, string? Error, bool Malformed);

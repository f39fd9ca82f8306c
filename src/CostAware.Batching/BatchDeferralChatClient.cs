using System.Runtime.CompilerServices;
using CostAware.Batching.Internal;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Logging;

namespace CostAware;

/// <summary>
/// A chat client stage that sends calls marked deferrable (<see cref="CostAwareChatOptionsExtensions.WithDeferral"/>,
/// or matching <see cref="BatchDeferralOptions.DeferScopes"/>) to their provider's batch API at its discount, instead of
/// the synchronous endpoint; every other call passes straight through.
/// </summary>
/// <remarks>
/// <para>
/// A deferred call is written to a durable queue before the caller is told it was accepted. With
/// <see cref="DeferralDelivery.Await"/> the call's task completes when the batch result arrives (minutes to hours); with
/// <see cref="DeferralDelivery.Ticket"/> it returns at once with a ticket id under <see cref="CostAwareProperties.BatchTicket"/>, and the
/// answer is fetched with <see cref="GetResultAsync"/> or handed to <see cref="BatchDeferralOptions.OnResult"/>.
/// </para>
/// <para>
/// A call is sent synchronously, through the rest of the pipeline, when its deadline is sooner than
/// <see cref="BatchDeferralOptions.ExpectedBatchLatency"/> or no batch provider is registered for its model's provider.
/// Answers carry a receipt at batch prices. Streaming calls that are deferred yield the whole answer when it arrives.
/// This type is thread-safe.
/// </para>
/// </remarks>
public sealed class BatchDeferralChatClient : DelegatingChatClient
{

    private readonly DeferralCoordinator _coordinator;
    private readonly TimeProvider _timeProvider;
    private readonly ILogger _logger;
    private ChatClientMetadata? _metadata;

    internal BatchDeferralChatClient(IChatClient innerClient, DeferralCoordinator coordinator, TimeProvider timeProvider, ILogger logger)
        : base(innerClient)
    {
        _coordinator = coordinator;
        _timeProvider = timeProvider;
        _logger = logger;
    }

    /// <inheritdoc />
    public override async Task<ChatResponse> GetResponseAsync(
        IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(messages);
        (IBatchProvider Provider, string Model, Deferral Deferral)? plan = Plan(options);
        if (plan is not { } deferred)
        {
            return await base.GetResponseAsync(messages, options, cancellationToken);
        }

        // Only a context an outer CostAware stage opened is trusted for the scope and the receipt.
        CostCallContext? call = CostCallContext.Find(options);
        CostScope scope = call?.Scope ?? options.ResolveCostScope();

        // The batch call is a provider call too: the budgets holding the call admit it (at the batch price) first.
        using IDisposable? lease = call is null ? null : await call.AdmitProviderCallAsync(messages, options, deferred.Model, batch: true, cancellationToken);
        string ticket = await _coordinator.EnqueueAsync(deferred.Provider, deferred.Model, messages, options, scope, deferred.Deferral, call?.Receipt, cancellationToken);
        if (deferred.Deferral.Delivery == DeferralDelivery.Ticket)
        {
            // The answer (and its bill) arrives after this call returns: the budgets count the call at what they reserved.
            call?.MarkCostUnaccounted("deferred to a batch with a ticket; its answer is billed when it arrives");
            return new ChatResponse { ResponseId = ticket, ModelId = deferred.Model, AdditionalProperties = new() { [CostAwareProperties.BatchTicket] = ticket } };
        }

        try
        {
            return await _coordinator.WaitAsync(ticket, cancellationToken);
        }
        catch (OperationCanceledException)
        {
            call?.MarkCostUnaccounted("a deferred call whose caller stopped waiting; its answer is billed when it arrives");
            throw;
        }
    }

    /// <inheritdoc />
    public override IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(
        IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(messages);
        return Plan(options) is null ? base.GetStreamingResponseAsync(messages, options, cancellationToken) : StreamDeferredAsync(messages, options, cancellationToken);
    }

    /// <summary>Gets the answer to a deferred call by its ticket id.</summary>
    /// <param name="ticket">The ticket id from <see cref="CostAwareProperties.BatchTicket"/>.</param>
    /// <param name="cancellationToken">Cancels the query.</param>
    /// <returns>The answer, with its receipt at batch prices, or <see langword="null"/> while the call is pending.</returns>
    /// <exception cref="ArgumentException"><paramref name="ticket"/> is null or empty.</exception>
    /// <exception cref="KeyNotFoundException">No deferred call has this ticket.</exception>
    /// <exception cref="DeferredCallFailedException">The call failed.</exception>
    public Task<ChatResponse?> GetResultAsync(string ticket, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(ticket);
        return _coordinator.GetResultAsync(ticket, cancellationToken);
    }

    private async IAsyncEnumerable<ChatResponseUpdate> StreamDeferredAsync(
        IEnumerable<ChatMessage> messages, ChatOptions? options, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        ChatResponse response = await GetResponseAsync(messages, options, cancellationToken);
        foreach (ChatResponseUpdate update in response.ToChatResponseUpdates())
        {
            yield return update;
        }
    }

    // Whether and where the call is deferred: marked (or by policy), a provider registered for its model, and a
    // deadline the batch window can meet.
    private (IBatchProvider Provider, string Model, Deferral Deferral)? Plan(ChatOptions? options)
    {
        Deferral? deferral = options.GetDeferral() ?? _coordinator.PolicyDeferral(options.ResolveCostScope());
        if (deferral is null)
        {
            return null;
        }

        string? model = options?.ModelId ?? (_metadata ??= InnerClient.GetService<ChatClientMetadata>() ?? new ChatClientMetadata()).DefaultModelId;
        IBatchProvider? provider = _coordinator.ProviderFor(model);
        if (provider is null)
        {
            Log.SentSynchronously(_logger, model, "no batch provider is registered for the model's provider");
            return null;
        }

        if (deferral.Deadline is { } deadline && deadline - _timeProvider.GetUtcNow() < _coordinator.Options.ExpectedBatchLatency)
        {
            Log.SentSynchronously(_logger, model, "its deadline is sooner than ExpectedBatchLatency");
            return null;
        }

        return (provider, model!, deferral);
    }
}

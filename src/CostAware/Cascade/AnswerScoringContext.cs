using Microsoft.Extensions.AI;

namespace CostAware;

/// <summary>
/// What a scorer sees: the request, the tier's answer, and ways to ask for more answers (the same tier again, or another
/// tier of the cascade). Inside the cascade every such call is metered on the request's receipt and admitted by its
/// budgets; build one yourself to run scorers offline, on recorded answers.
/// </summary>
public sealed class AnswerScoringContext
{
    private readonly Func<float?, CancellationToken, Task<ChatResponse>>? _resample;
    private readonly Func<int, CancellationToken, Task<ChatResponse>>? _askTier;

    /// <summary>Initializes a new instance of the <see cref="AnswerScoringContext"/> class, for running scorers outside a cascade.</summary>
    /// <param name="messages">The request's messages.</param>
    /// <param name="options">The request's options as the tier received them, or <see langword="null"/>.</param>
    /// <param name="response">The tier's answer.</param>
    /// <param name="tier">The tier's index (0 is the cheapest).</param>
    /// <param name="modelId">The model that answered, when known.</param>
    /// <param name="resample">
    /// Asks the same tier again, at the given temperature (<see langword="null"/>: the request's own); <see langword="null"/>
    /// when there is no way to (then <see cref="ResampleAsync"/> and <see cref="SampleAsync"/> throw).
    /// </param>
    /// <param name="askTier">
    /// The answer of another tier to the same request (recorded answers, offline); <see langword="null"/> when there are
    /// none (then <see cref="GetTierAnswerAsync"/> throws).
    /// </param>
    /// <exception cref="ArgumentNullException"><paramref name="messages"/> or <paramref name="response"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="tier"/> is negative.</exception>
    public AnswerScoringContext(
        IReadOnlyList<ChatMessage> messages,
        ChatOptions? options,
        ChatResponse response,
        int tier,
        string? modelId = null,
        Func<float?, CancellationToken, Task<ChatResponse>>? resample = null,
        Func<int, CancellationToken, Task<ChatResponse>>? askTier = null)
    {
        ArgumentNullException.ThrowIfNull(messages);
        ArgumentNullException.ThrowIfNull(response);
        ArgumentOutOfRangeException.ThrowIfNegative(tier);
        Messages = messages;
        Options = options;
        Response = response;
        Tier = tier;
        ModelId = modelId;
        _resample = resample;
        _askTier = askTier;
    }

    /// <summary>Gets the request's messages.</summary>
    public IReadOnlyList<ChatMessage> Messages { get; }

    /// <summary>Gets the request's options as the tier received them.</summary>
    public ChatOptions? Options { get; }

    /// <summary>Gets the tier's answer.</summary>
    public ChatResponse Response { get; }

    /// <summary>Gets the tier's index (0 is the cheapest).</summary>
    public int Tier { get; }

    /// <summary>Gets the model the tier called, when known.</summary>
    public string? ModelId { get; }

    /// <summary>Asks the same tier the same question again (for agreement checks); the call is metered like any other.</summary>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>The second answer.</returns>
    /// <exception cref="InvalidOperationException">The context was built without a way to resample.</exception>
    public Task<ChatResponse> ResampleAsync(CancellationToken cancellationToken = default) => ResampleCoreAsync(temperature: null, cancellationToken);

    /// <summary>
    /// Asks the same tier the same question again at a temperature, so that samples can differ (at temperature 0, or on
    /// recorded answers, they agree by construction); the call is metered like any other.
    /// </summary>
    /// <param name="temperature">The temperature for this sample, 0 or more.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>The new answer.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="temperature"/> is negative or not a number.</exception>
    /// <exception cref="InvalidOperationException">The context was built without a way to resample.</exception>
    public Task<ChatResponse> SampleAsync(float temperature, CancellationToken cancellationToken = default) =>
        temperature >= 0f
            ? ResampleCoreAsync(temperature, cancellationToken)
            : throw new ArgumentOutOfRangeException(nameof(temperature), temperature, "The temperature must be zero or more.");

    private Task<ChatResponse> ResampleCoreAsync(float? temperature, CancellationToken cancellationToken) =>
        _resample is { } resample
            ? resample(temperature, cancellationToken)
            : throw new InvalidOperationException("This scoring context has no way to ask the tier again.");

    /// <summary>
    /// Gets another tier's answer to the same request. In a cascade it is asked once per request, metered and admitted
    /// like the tier's own call, and kept: when the cascade escalates to that tier, the answer already paid for is used
    /// instead of asking again.
    /// </summary>
    /// <param name="tier">The other tier's index.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>That tier's answer.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="tier"/> is this context's own tier, or not a tier of the cascade.</exception>
    /// <exception cref="InvalidOperationException">The context was built without other tiers' answers.</exception>
    public Task<ChatResponse> GetTierAnswerAsync(int tier, CancellationToken cancellationToken = default)
    {
        if (tier == Tier)
        {
            throw new ArgumentOutOfRangeException(nameof(tier), tier, "A tier's answer is compared with another tier's: use Response for its own, or ResampleAsync for a second sample.");
        }

        return _askTier is { } askTier
            ? askTier(tier, cancellationToken)
            : throw new InvalidOperationException("This scoring context has no other tiers' answers.");
    }
}

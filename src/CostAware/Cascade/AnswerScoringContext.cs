using Microsoft.Extensions.AI;

namespace CostAware;

/// <summary>What a scorer sees: the request, the tier's answer, and a way to ask the same tier again.</summary>
public sealed class AnswerScoringContext
{
    private readonly Func<CancellationToken, Task<ChatResponse>> _resample;

    internal AnswerScoringContext(
        IReadOnlyList<Microsoft.Extensions.AI.ChatMessage> messages, ChatOptions? options, ChatResponse response, int tier, string? modelId, Func<CancellationToken, Task<ChatResponse>> resample)
    {
        Messages = messages;
        Options = options;
        Response = response;
        Tier = tier;
        ModelId = modelId;
        _resample = resample;
    }

    /// <summary>Gets the request's messages.</summary>
    public IReadOnlyList<Microsoft.Extensions.AI.ChatMessage> Messages { get; }

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
    public Task<ChatResponse> ResampleAsync(CancellationToken cancellationToken = default) => _resample(cancellationToken);
}

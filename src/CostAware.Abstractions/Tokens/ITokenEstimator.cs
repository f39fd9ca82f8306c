using Microsoft.Extensions.AI;

namespace CostAware;

/// <summary>
/// Counts tokens before a call, for estimates and budget reservations. After a call, the provider's reported usage
/// always wins over an estimate.
/// </summary>
/// <remarks>Implementations must be safe to call from many threads at once.</remarks>
public interface ITokenEstimator
{
    /// <summary>Counts the tokens of a piece of text as the given model's tokenizer would (or its documented approximation).</summary>
    /// <param name="text">The text.</param>
    /// <param name="modelId">The model, or <see langword="null"/> for the default encoding.</param>
    /// <returns>The token count.</returns>
    int CountTokens(ReadOnlySpan<char> text, string? modelId);

    /// <summary>Estimates the input tokens of a chat request: every message's text, the per-message overhead, and tool definitions.</summary>
    /// <param name="messages">The request's messages.</param>
    /// <param name="options">The request's options, or <see langword="null"/>.</param>
    /// <param name="modelId">The model, or <see langword="null"/> for the default encoding.</param>
    /// <returns>The estimated input token count.</returns>
    int EstimateInputTokens(IEnumerable<ChatMessage> messages, ChatOptions? options, string? modelId);
}

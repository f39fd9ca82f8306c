using Microsoft.Extensions.AI;

namespace CostAware;

/// <summary>
/// Verifies a semantic-cache hit by asking a chat model whether the two questions ask for the same answer.
/// </summary>
/// <remarks>
/// The judge's call carries the request's receipt, so a judge client built with <c>UseTokenMetering()</c> puts its
/// cost on the receipt the hit saved money on. Use a cheap, fast model: the judge runs on every candidate hit in the
/// verified partitions. Any answer other than one starting with "yes" rejects the hit. Thread-safe.
/// </remarks>
/// <param name="judge">The judge model's client.</param>
/// <param name="options">Options for the judge's calls (model id, for example); <see langword="null"/> for the client's defaults.</param>
public sealed class ChatClientSemanticHitVerifier(IChatClient judge, ChatOptions? options = null) : ISemanticHitVerifier
{
    private const string Instructions =
        "You decide whether a cached answer may be reused. Reply with exactly one word: yes if the two questions ask for the same information, so that one answer serves both; no otherwise (different numbers, dates, names, negation, or scope).";

    private readonly IChatClient _judge = judge ?? throw new ArgumentNullException(nameof(judge));

    /// <inheritdoc />
    public async ValueTask<bool> VerifyAsync(SemanticHitCandidate candidate, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(candidate);
        ChatOptions call = candidate.Call.Forward(options);
        call.Instructions = Instructions;
        call.MaxOutputTokens ??= 3;
        call.Temperature ??= 0f;
        call.AdditionalProperties![CostAwareProperties.CacheControl] = CacheControl.Bypass;

        ChatResponse verdict = await _judge.GetResponseAsync(
            $"Question A: {candidate.Query}\nQuestion B: {candidate.CachedPrompt}\nSame information asked?", call, cancellationToken);
        return verdict.Text.TrimStart().StartsWith("yes", StringComparison.OrdinalIgnoreCase);
    }
}

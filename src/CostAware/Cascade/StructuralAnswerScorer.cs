using System.Text.RegularExpressions;
using Microsoft.Extensions.AI;

namespace CostAware;

/// <summary>
/// Scores what can be seen without understanding the answer: empty (0), cut off by the output limit (0), stopped by
/// a content filter (0), a refusal or an "I don't know" (0.2), otherwise 1.
/// </summary>
/// <remarks>The default scorer of a cascade. Thread-safe; use <see cref="Instance"/>.</remarks>
public sealed partial class StructuralAnswerScorer : IAnswerScorer
{
    private StructuralAnswerScorer()
    {
    }

    /// <summary>Gets the scorer.</summary>
    public static StructuralAnswerScorer Instance { get; } = new();

    /// <inheritdoc />
    public ValueTask<AnswerScore> ScoreAsync(AnswerScoringContext context, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(context);
        ChatResponse response = context.Response;
        string text = response.Text;
        AnswerScore score = response.FinishReason == ChatFinishReason.ContentFilter ? new(0d, "stopped by a content filter")
            : response.FinishReason == ChatFinishReason.Length ? new(0d, "cut off at the output limit")
            : string.IsNullOrWhiteSpace(text) && !HasToolCalls(response) ? new(0d, "empty answer")
            : Refusal().IsMatch(text) ? new(0.2d, "a refusal or an admission of not knowing")
            : new(1d, "complete answer");
        return ValueTask.FromResult(score);
    }

    private static bool HasToolCalls(ChatResponse response)
    {
        foreach (ChatMessage message in response.Messages)
        {
            foreach (AIContent content in message.Contents)
            {
                if (content is FunctionCallContent)
                {
                    return true;
                }
            }
        }

        return false;
    }

    // Refusals and admissions of ignorance near the start of an answer, in the phrasings models use.
    [GeneratedRegex(
        @"^\W*(i'?m sorry|i am sorry|sorry,|i apologi[sz]e|i can(?:no|')t (?:help|assist|answer|provide|do that)|i cannot|i am unable|i'?m unable|i don'?t know|i do not know|i'?m not sure|i am not sure|as an ai\b|unfortunately,? i)",
        RegexOptions.IgnoreCase | RegexOptions.CultureInvariant, matchTimeoutMilliseconds: 1000)]
    private static partial Regex Refusal();
}

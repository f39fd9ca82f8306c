using System.Text.RegularExpressions;

namespace CostAware;

/// <summary>
/// Asks the same tier the same question once more and compares the two answers: 1 when they agree, 0 when they do
/// not (a model unsure of its answer tends to give different ones). The second call is metered like any other.
/// </summary>
/// <remarks>
/// Answers agree when their final numbers are equal (the last number in each), or, for answers without numbers,
/// when their normalised text (lower case, words only) is equal. Thread-safe; use <see cref="Instance"/>.
/// </remarks>
public sealed partial class AgreementAnswerScorer : IAnswerScorer
{
    private AgreementAnswerScorer()
    {
    }

    /// <summary>Gets the scorer.</summary>
    public static AgreementAnswerScorer Instance { get; } = new();

    /// <inheritdoc />
    public async ValueTask<AnswerScore> ScoreAsync(AnswerScoringContext context, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(context);
        Microsoft.Extensions.AI.ChatResponse second = await context.ResampleAsync(cancellationToken);
        return Agree(context.Response.Text, second.Text)
            ? new AnswerScore(1d, "a second sample agrees")
            : new AnswerScore(0d, "a second sample disagrees");
    }

    internal static bool Agree(string first, string second)
    {
        string? a = FinalNumber(first);
        string? b = FinalNumber(second);
        if (a is not null || b is not null)
        {
            return a == b;
        }

        return string.Equals(Normalise(first), Normalise(second), StringComparison.Ordinal);
    }

    private static string? FinalNumber(string text)
    {
        MatchCollection numbers = Number().Matches(text);
        return numbers.Count == 0 ? null : numbers[^1].Value.Replace(",", string.Empty, StringComparison.Ordinal).TrimEnd('.').TrimStart('+');
    }

    private static string Normalise(string text) => string.Join(' ', Word().Matches(text.ToUpperInvariant()).Select(static m => m.Value));

    [GeneratedRegex(@"[-+]?\d[\d,]*(?:\.\d+)?", RegexOptions.CultureInvariant, matchTimeoutMilliseconds: 1000)]
    private static partial Regex Number();

    [GeneratedRegex(@"\w+", RegexOptions.CultureInvariant, matchTimeoutMilliseconds: 1000)]
    private static partial Regex Word();
}

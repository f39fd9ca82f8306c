using System.Text.RegularExpressions;

namespace CostAware;

/// <summary>Builds scorers from the app's own checks.</summary>
public static class AnswerScorer
{
    /// <summary>
    /// Creates a scorer from an app check: code that decides on the answer (parse it, validate it against the app's
    /// data, run the generated code's unit tests in the app's own sandbox). The library runs nothing itself.
    /// </summary>
    /// <param name="score">The check; it must be thread-safe. An exception it throws is a failed scoring, which escalates.</param>
    /// <returns>The scorer.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="score"/> is <see langword="null"/>.</exception>
    public static IAnswerScorer Create(Func<AnswerScoringContext, CancellationToken, ValueTask<AnswerScore>> score)
    {
        ArgumentNullException.ThrowIfNull(score);
        return new Delegated(score);
    }

    /// <summary>
    /// Creates a format scorer: 1 when the answer's text matches the pattern (a final-answer line, a JSON shape, a
    /// code block), 0 when it does not.
    /// </summary>
    /// <param name="pattern">The pattern; give it a match timeout (the built-in regex factory methods do).</param>
    /// <returns>The scorer.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="pattern"/> is <see langword="null"/>.</exception>
    public static IAnswerScorer Matches(Regex pattern)
    {
        ArgumentNullException.ThrowIfNull(pattern);
        return new Delegated((context, _) =>
        {
            bool matched;
            try
            {
                matched = pattern.IsMatch(context.Response.Text);
            }
            catch (RegexMatchTimeoutException)
            {
                matched = false;
            }

            return ValueTask.FromResult(matched ? new AnswerScore(1d, "the answer has the expected form") : new AnswerScore(0d, "the answer does not have the expected form"));
        });
    }

    private sealed class Delegated(Func<AnswerScoringContext, CancellationToken, ValueTask<AnswerScore>> score) : IAnswerScorer
    {
        public ValueTask<AnswerScore> ScoreAsync(AnswerScoringContext context, CancellationToken cancellationToken)
        {
            ArgumentNullException.ThrowIfNull(context);
            return score(context, cancellationToken);
        }
    }
}

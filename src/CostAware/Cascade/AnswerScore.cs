using Microsoft.Extensions.AI;

namespace CostAware;

/// <summary>A scorer's verdict on an answer: a score in [0, 1] (higher is better) and the reason for it.</summary>
public readonly record struct AnswerScore
{
    /// <summary>Initializes a new instance of the <see cref="AnswerScore"/> struct.</summary>
    /// <param name="score">The score, in [0, 1].</param>
    /// <param name="reason">Why, in a few words (it is shown on the cascade report).</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="score"/> is not in [0, 1].</exception>
    /// <exception cref="ArgumentNullException"><paramref name="reason"/> is <see langword="null"/>.</exception>
    public AnswerScore(double score, string reason)
    {
        if (!(score >= 0d && score <= 1d))
        {
            throw new ArgumentOutOfRangeException(nameof(score), score, "An answer score must be in [0, 1].");
        }

        ArgumentNullException.ThrowIfNull(reason);
        Score = score;
        Reason = reason;
    }

    /// <summary>Gets the score, in [0, 1].</summary>
    public double Score { get; }

    /// <summary>Gets why.</summary>
    public string Reason { get; }

    /// <summary>
    /// Gets an answer already paid for to serve in place of the tier's own when this score accepts it: the majority
    /// answer of several samples, or another tier's answer the tier's agreed with. <see langword="null"/> serves the
    /// tier's answer.
    /// </summary>
    public ChatResponse? Answer { get; init; }
}

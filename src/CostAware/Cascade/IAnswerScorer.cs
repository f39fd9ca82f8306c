namespace CostAware;

/// <summary>
/// Judges whether a cascade tier's answer is good enough to serve: a score in [0, 1] (1 = certainly fine) with a
/// reason. Scorers are combined by <see cref="ModelCascadeOptions.Combination"/>; apps add their own.
/// </summary>
/// <remarks>Implementations must be thread-safe: one instance scores many calls at once.</remarks>
public interface IAnswerScorer
{
    /// <summary>Scores one answer.</summary>
    /// <param name="context">The request, the answer and the tier that gave it.</param>
    /// <param name="cancellationToken">Cancels the scoring.</param>
    /// <returns>The score and why.</returns>
    ValueTask<AnswerScore> ScoreAsync(AnswerScoringContext context, CancellationToken cancellationToken);
}

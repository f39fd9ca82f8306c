using Microsoft.Extensions.AI;

namespace CostAware;

/// <summary>
/// Self-consistency: asks the same tier for more samples at a temperature, groups the answers (the tier's first one
/// included) by an equivalence, and scores the share of the largest group. When that score is accepted the majority
/// answer is served (already paid for), which may not be the tier's first answer.
/// </summary>
/// <remarks>Every sample is a metered call on the request's receipt. Thread-safe.</remarks>
public sealed class MajorityVoteAnswerScorer : IAnswerScorer
{
    private readonly int _samples;
    private readonly float _temperature;
    private readonly IAnswerEquivalence _equivalence;

    /// <summary>Initializes a new instance of the <see cref="MajorityVoteAnswerScorer"/> class.</summary>
    /// <param name="samples">How many answers vote, the tier's first one included: 2 or more (each further one is a call).</param>
    /// <param name="temperature">The temperature of the further samples; above 0, or the samples agree by construction.</param>
    /// <param name="equivalence">How answers are grouped; <see cref="AnswerEquivalence.FinalNumber"/> when <see langword="null"/>.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="samples"/> is below 2, or <paramref name="temperature"/> is not above 0.</exception>
    public MajorityVoteAnswerScorer(int samples = 3, float temperature = 0.7f, IAnswerEquivalence? equivalence = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(samples, 2);
        if (!(temperature > 0f))
        {
            throw new ArgumentOutOfRangeException(nameof(temperature), temperature, "Samples at temperature 0 agree by construction: give a temperature above 0.");
        }

        _samples = samples;
        _temperature = temperature;
        _equivalence = equivalence ?? AnswerEquivalence.FinalNumber;
    }

    /// <inheritdoc />
    public async ValueTask<AnswerScore> ScoreAsync(AnswerScoringContext context, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(context);
        List<ChatResponse> answers = [context.Response];
        for (int i = 1; i < _samples; i++)
        {
            answers.Add(await context.SampleAsync(_temperature, cancellationToken));
        }

        // Groups by the first member of each; the largest wins, the earliest on a tie (the tier's own answer first).
        List<(ChatResponse First, int Votes)> groups = [];
        foreach (ChatResponse answer in answers)
        {
            int found = -1;
            for (int g = 0; g < groups.Count && found < 0; g++)
            {
                if (await _equivalence.AreEquivalentAsync(groups[g].First.Text, answer.Text, cancellationToken))
                {
                    found = g;
                }
            }

            if (found >= 0)
            {
                groups[found] = (groups[found].First, groups[found].Votes + 1);
            }
            else
            {
                groups.Add((answer, 1));
            }
        }

        (ChatResponse winner, int votes) = groups[0];
        foreach ((ChatResponse first, int count) in groups)
        {
            if (count > votes)
            {
                (winner, votes) = (first, count);
            }
        }

        return new AnswerScore((double)votes / answers.Count, $"{votes} of {answers.Count} samples agree")
        {
            Answer = ReferenceEquals(winner, context.Response) ? null : winner,
        };
    }
}

namespace CostAware;

/// <summary>
/// Compares a tier's answer with another tier's answer to the same request (a different model): 1 when they agree, 0
/// when they do not. Agreement between two different models is the signal that separates right from wrong answers
/// best when nothing else is known about the task.
/// </summary>
/// <remarks>
/// <para>
/// The other tier is asked through the cascade (metered on the request's receipt, admitted by its budgets) at most once
/// per request, and its answer is kept: when the cascade escalates to that tier, the answer already paid for is scored
/// and served without asking again. A typical chain is cheap → mid → strong, with this scorer on the cheap tier
/// comparing with the mid tier: when cheap and mid agree, the cheap answer is served; when they do not, the mid tier's
/// own scorer (for example this scorer comparing back with tier 0, which then disagrees) sends the request to the
/// strong tier.
/// </para>
/// <para>Thread-safe.</para>
/// </remarks>
public sealed class TierAgreementAnswerScorer : IAnswerScorer
{
    private readonly int _otherTier;
    private readonly IAnswerEquivalence _equivalence;

    /// <summary>Initializes a new instance of the <see cref="TierAgreementAnswerScorer"/> class.</summary>
    /// <param name="otherTier">The index of the tier whose answer this tier's is compared with.</param>
    /// <param name="equivalence">How answers are compared; <see cref="AnswerEquivalence.FinalNumber"/> when <see langword="null"/>.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="otherTier"/> is negative.</exception>
    public TierAgreementAnswerScorer(int otherTier, IAnswerEquivalence? equivalence = null)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(otherTier);
        _otherTier = otherTier;
        _equivalence = equivalence ?? AnswerEquivalence.FinalNumber;
    }

    /// <inheritdoc />
    /// <exception cref="ArgumentOutOfRangeException">The other tier is the scored tier itself, or not a tier of the cascade.</exception>
    public async ValueTask<AnswerScore> ScoreAsync(AnswerScoringContext context, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(context);
        Microsoft.Extensions.AI.ChatResponse other = await context.GetTierAnswerAsync(_otherTier, cancellationToken);
        return await _equivalence.AreEquivalentAsync(context.Response.Text, other.Text, cancellationToken)
            ? new AnswerScore(1d, $"tier {_otherTier} agrees")
            : new AnswerScore(0d, $"tier {_otherTier} disagrees");
    }
}

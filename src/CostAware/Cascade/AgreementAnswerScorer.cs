namespace CostAware;

/// <summary>
/// Asks the same tier the same question once more and compares the two answers: 1 when they agree, 0 when they do
/// not (a model unsure of its answer tends to give different ones). The second call is metered like any other.
/// </summary>
/// <remarks>
/// At temperature 0, or on recorded answers, a second sample agrees by construction and only doubles the cost: give the
/// scorer a temperature, or compare with another model (<see cref="TierAgreementAnswerScorer"/>). Thread-safe.
/// </remarks>
public sealed class AgreementAnswerScorer : IAnswerScorer
{
    private readonly IAnswerEquivalence _equivalence;
    private readonly float? _temperature;

    /// <summary>Initializes a new instance of the <see cref="AgreementAnswerScorer"/> class.</summary>
    /// <param name="equivalence">How answers are compared; <see cref="AnswerEquivalence.FinalNumber"/> when <see langword="null"/>.</param>
    /// <param name="temperature">The temperature of the second sample; <see langword="null"/> keeps the request's.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="temperature"/> is negative or not a number.</exception>
    public AgreementAnswerScorer(IAnswerEquivalence? equivalence = null, float? temperature = null)
    {
        if (temperature is { } t && !(t >= 0f))
        {
            throw new ArgumentOutOfRangeException(nameof(temperature), temperature, "The temperature must be zero or more.");
        }

        _equivalence = equivalence ?? AnswerEquivalence.FinalNumber;
        _temperature = temperature;
    }

    /// <summary>Gets the scorer that compares final numbers (or normalised text) at the request's temperature.</summary>
    public static AgreementAnswerScorer Instance { get; } = new();

    /// <inheritdoc />
    public async ValueTask<AnswerScore> ScoreAsync(AnswerScoringContext context, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(context);
        Microsoft.Extensions.AI.ChatResponse second = await (_temperature is { } t ? context.SampleAsync(t, cancellationToken) : context.ResampleAsync(cancellationToken));
        return await _equivalence.AreEquivalentAsync(context.Response.Text, second.Text, cancellationToken)
            ? new AnswerScore(1d, "a second sample agrees")
            : new AnswerScore(0d, "a second sample disagrees");
    }

    internal static bool Agree(string first, string second) => AnswerEquivalence.SameFinalAnswer(first, second);
}

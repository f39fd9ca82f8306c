namespace CostAware;

/// <summary>One labelled answer for training a <see cref="LearnedAnswerScorer"/>.</summary>
/// <param name="Question">The question (the request's last user message).</param>
/// <param name="Answer">The tier's answer.</param>
/// <param name="Correct">Whether the answer is right.</param>
/// <param name="MeanLogProbability">The answer's mean token log-probability, when the provider returned them.</param>
public sealed record class LearnedScorerExample(string Question, string Answer, bool Correct, double? MeanLogProbability = null);

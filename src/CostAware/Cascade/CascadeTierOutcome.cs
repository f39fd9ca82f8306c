namespace CostAware;

/// <summary>What one tier did for one labelled example: its answer's score, the answer's quality, and what it cost.</summary>
/// <param name="Score">The cascade's score of the tier's answer, in [0, 1].</param>
/// <param name="Quality">The answer's true quality, in [0, 1] (1 or 0 for right or wrong; a judge's grade / 10).</param>
/// <param name="Cost">What the tier's calls cost, scoring included.</param>
public readonly record struct CascadeTierOutcome(double Score, double Quality, decimal Cost);

namespace CostAware;

/// <summary>One setting of a cascade's thresholds and what it gives on the labelled examples.</summary>
/// <param name="Thresholds">One threshold per tier but the last; <see cref="double.PositiveInfinity"/> means the tier never serves (drop it).</param>
/// <param name="Quality">The mean quality of the answers served.</param>
/// <param name="Cost">The mean cost per request.</param>
public sealed record class CascadeCalibrationPoint(IReadOnlyList<double> Thresholds, double Quality, decimal Cost);

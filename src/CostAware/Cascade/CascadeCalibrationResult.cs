namespace CostAware;

/// <summary>The thresholds <see cref="CascadeCalibration.Calibrate"/> chose, and the cost/quality curve it chose them from.</summary>
public sealed record class CascadeCalibrationResult
{
    /// <summary>Gets the chosen setting: the cheapest that meets the target, or the best quality when none does.</summary>
    public required CascadeCalibrationPoint Chosen { get; init; }

    /// <summary>Gets a value indicating whether the chosen setting meets the target quality.</summary>
    public bool TargetMet { get; init; }

    /// <summary>Gets the cost/quality frontier: settings no other setting beats on both, cheapest first.</summary>
    public required IReadOnlyList<CascadeCalibrationPoint> Curve { get; init; }
}

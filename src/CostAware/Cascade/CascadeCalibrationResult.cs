namespace CostAware;

/// <summary>The thresholds <see cref="CascadeCalibration.Calibrate"/> chose, and the cost/quality curve it chose them from.</summary>
public sealed record class CascadeCalibrationResult
{
    /// <summary>
    /// Gets the chosen setting: the cheapest real cascade that meets the target; when none does, the strongest tier alone
    /// if it meets the target, else the setting of best quality. Apply it with <see cref="CascadeCalibrationPoint.Apply"/>.
    /// </summary>
    public required CascadeCalibrationPoint Chosen { get; init; }

    /// <summary>
    /// Gets a value indicating whether a real cascade (one that serves some requests from a cheaper tier) meets the target
    /// quality for less than the strongest tier alone. <see langword="false"/> when only the strongest tier alone does, or
    /// a cascade does only at a higher cost: no cascade pays on this data.
    /// </summary>
    public bool TargetMet { get; init; }

    /// <summary>Gets a value indicating whether the strongest tier alone meets the target quality.</summary>
    public bool StrongestAloneMeetsTarget { get; init; }

    /// <summary>Gets the cost/quality frontier: settings no other setting beats on both, cheapest first.</summary>
    public required IReadOnlyList<CascadeCalibrationPoint> Curve { get; init; }
}

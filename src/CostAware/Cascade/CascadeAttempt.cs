namespace CostAware;

/// <summary>One tier the cascade tried for a request.</summary>
public sealed record class CascadeAttempt
{
    /// <summary>Gets the tier's index (0 is the cheapest).</summary>
    public required int Tier { get; init; }

    /// <summary>Gets the model the tier called, when known.</summary>
    public string? ModelId { get; init; }

    /// <summary>Gets what the tier's calls cost (its answer, and any judge or resample calls of its scoring), or <see langword="null"/> when unpriced.</summary>
    public decimal? Cost { get; init; }

    /// <summary>Gets the answer's score, or <see langword="null"/> when the tier failed or its answer was not scored (the last tier, or a skipped tier).</summary>
    public double? Score { get; init; }

    /// <summary>Gets why the answer scored as it did, or what went wrong.</summary>
    public string? Reason { get; init; }

    /// <summary>Gets the error that made the cascade move on, when the tier failed (an error is not a low score).</summary>
    public string? Error { get; init; }

    /// <summary>Gets a value indicating whether this tier's answer was served.</summary>
    public bool Served { get; init; }
}

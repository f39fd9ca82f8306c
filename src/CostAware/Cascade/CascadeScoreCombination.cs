namespace CostAware;

/// <summary>How the scores of several scorers make one.</summary>
public enum CascadeScoreCombination
{
    /// <summary>The lowest score: every scorer must be satisfied.</summary>
    Minimum = 0,

    /// <summary>The mean score.</summary>
    Mean = 1,
}

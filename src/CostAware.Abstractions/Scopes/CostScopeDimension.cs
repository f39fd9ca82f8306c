namespace CostAware;

/// <summary>One dimension of a <see cref="CostScope"/>: what budgets and reports can be kept per.</summary>
public enum CostScopeDimension
{
    /// <summary><see cref="CostScope.Tenant"/>.</summary>
    Tenant = 0,

    /// <summary><see cref="CostScope.User"/>.</summary>
    User = 1,

    /// <summary><see cref="CostScope.ApiKey"/>.</summary>
    ApiKey = 2,

    /// <summary><see cref="CostScope.Agent"/>.</summary>
    Agent = 3,

    /// <summary><see cref="CostScope.Workflow"/>.</summary>
    Workflow = 4,

    /// <summary><see cref="CostScope.Feature"/>.</summary>
    Feature = 5,
}

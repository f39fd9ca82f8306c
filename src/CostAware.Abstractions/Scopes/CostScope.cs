namespace CostAware;

/// <summary>
/// Who pays for a call: the dimensions that costs are attributed, cached, budgeted and reported by.
/// </summary>
/// <remarks>
/// <para>
/// Set a scope per call with <see cref="CostAwareChatOptionsExtensions.WithCostScope(Microsoft.Extensions.AI.ChatOptions, CostScope)"/>,
/// or for a whole flow of code with <see cref="AmbientCostScope.Begin(CostScope)"/>. When both are present the
/// per-call scope wins field by field (see <see cref="Merge(CostScope?)"/>).
/// </para>
/// <para>
/// The values are identifiers, not secrets: <see cref="ApiKey"/> is the name or id of a key, never the key itself.
/// They appear in receipts, ledger rows and metric dimensions.
/// </para>
/// <para>Instances are immutable and safe to share between threads.</para>
/// </remarks>
public sealed record class CostScope
{
    /// <summary>Gets the empty scope: nobody in particular pays.</summary>
    public static CostScope None { get; } = new();

    /// <summary>Gets the tenant (customer, organisation).</summary>
    /// <value>The default value is <see langword="null"/>.</value>
    public string? Tenant { get; init; }

    /// <summary>Gets the end user.</summary>
    /// <value>The default value is <see langword="null"/>.</value>
    public string? User { get; init; }

    /// <summary>Gets the name or id of the API key the call is made for (never the secret itself).</summary>
    /// <value>The default value is <see langword="null"/>.</value>
    public string? ApiKey { get; init; }

    /// <summary>Gets the agent making the call.</summary>
    /// <value>The default value is <see langword="null"/>.</value>
    public string? Agent { get; init; }

    /// <summary>Gets the workflow (or task run) the call belongs to.</summary>
    /// <value>The default value is <see langword="null"/>.</value>
    public string? Workflow { get; init; }

    /// <summary>Gets the product feature the call serves.</summary>
    /// <value>The default value is <see langword="null"/>.</value>
    public string? Feature { get; init; }

    /// <summary>Gets a value indicating whether no dimension is set.</summary>
    public bool IsEmpty =>
        Tenant is null && User is null && ApiKey is null && Agent is null && Workflow is null && Feature is null;

    /// <summary>Gets the value of one dimension.</summary>
    /// <param name="dimension">The dimension.</param>
    /// <returns>The value, or <see langword="null"/> when it is not set.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="dimension"/> is not a defined value.</exception>
    public string? Get(CostScopeDimension dimension) => dimension switch
    {
        CostScopeDimension.Tenant => Tenant,
        CostScopeDimension.User => User,
        CostScopeDimension.ApiKey => ApiKey,
        CostScopeDimension.Agent => Agent,
        CostScopeDimension.Workflow => Workflow,
        CostScopeDimension.Feature => Feature,
        _ => throw new ArgumentOutOfRangeException(nameof(dimension), dimension, "Not a cost-scope dimension."),
    };

    /// <summary>Returns a scope whose fields are those of <paramref name="overrides"/> where set, and this scope's elsewhere.</summary>
    /// <param name="overrides">The scope whose non-null fields win; <see langword="null"/> returns this scope.</param>
    /// <returns>The merged scope.</returns>
    public CostScope Merge(CostScope? overrides)
    {
        if (overrides is null || overrides.IsEmpty || ReferenceEquals(overrides, this))
        {
            return this;
        }

        if (IsEmpty)
        {
            return overrides;
        }

        return new CostScope
        {
            Tenant = overrides.Tenant ?? Tenant,
            User = overrides.User ?? User,
            ApiKey = overrides.ApiKey ?? ApiKey,
            Agent = overrides.Agent ?? Agent,
            Workflow = overrides.Workflow ?? Workflow,
            Feature = overrides.Feature ?? Feature,
        };
    }

    /// <summary>Returns whether this scope satisfies a filter: every dimension set in <paramref name="filter"/> is equal here (ordinal).</summary>
    /// <param name="filter">The filter; its <see langword="null"/> dimensions match anything.</param>
    /// <returns><see langword="true"/> when every set dimension of the filter matches.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="filter"/> is <see langword="null"/>.</exception>
    public bool Matches(CostScope filter)
    {
        ArgumentNullException.ThrowIfNull(filter);
        return Same(filter.Tenant, Tenant) && Same(filter.User, User) && Same(filter.ApiKey, ApiKey)
            && Same(filter.Agent, Agent) && Same(filter.Workflow, Workflow) && Same(filter.Feature, Feature);

        static bool Same(string? wanted, string? actual) => wanted is null || string.Equals(wanted, actual, StringComparison.Ordinal);
    }
}

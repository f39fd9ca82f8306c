using System.ComponentModel.DataAnnotations;

namespace CostAware;

/// <summary>
/// One budget: a limit on money (and optionally on calls), over a window, kept separately for each value of the scope
/// dimensions in <see cref="Per"/>.
/// </summary>
/// <remarks>
/// <para>
/// Examples: every tenant may spend $5 a day (<c>Per = [Tenant]</c>, <c>Window = Day</c>, <c>Limit = 5</c>); the
/// whole app $1,000 a calendar month in New York time (<c>Per = []</c>, <c>Window = Month</c>,
/// <c>TimeZone = "America/New_York"</c>); each agent run at most 50 calls and $2 (<c>Per = [Workflow]</c>,
/// <c>Window = Lifetime</c>, <c>MaxCalls = 50</c>, <c>Limit = 2</c>).
/// </para>
/// <para>
/// A call whose scope leaves a <see cref="Per"/> dimension unset is counted with every other such call under the value
/// <c>-</c> (see <see cref="PoolUnscopedCalls"/>): forgetting to set a tenant never escapes a per-tenant budget. This type is a mutable bag for
/// configuration and is not thread-safe; the stage copies it when it is built or reconfigured.
/// </para>
/// </remarks>
public sealed class BudgetDefinition
{
    /// <summary>Gets or sets the scope dimensions the budget is kept per; empty for one budget shared by every call.</summary>
    /// <value>The default value is empty (global).</value>
    public IList<CostScopeDimension> Per { get; set; } = [];

    /// <summary>
    /// Gets or sets dimension values a call's scope must have for the budget to apply, for example
    /// <c>Feature = "chat"</c> for a budget of the chat feature only.
    /// </summary>
    /// <value>The default value is empty: the budget applies to every call.</value>
    public IDictionary<CostScopeDimension, string> Where { get; set; } = new Dictionary<CostScopeDimension, string>();

    /// <summary>
    /// Gets or sets a value indicating whether calls whose scope leaves a <see cref="Per"/> dimension unset are counted
    /// together under the value <c>-</c> (<see langword="true"/>), or not counted by this budget at all
    /// (<see langword="false"/>: for a per-run guard that should ignore calls made outside any run).
    /// </summary>
    /// <value>The default value is <see langword="true"/>: forgetting to set a tenant never escapes a per-tenant budget.</value>
    public bool PoolUnscopedCalls { get; set; } = true;

    /// <summary>Gets or sets the window the limit applies to.</summary>
    /// <value>The default value is <see cref="BudgetWindow.Day"/>.</value>
    [EnumDataType(typeof(BudgetWindow))]
    public BudgetWindow Window { get; set; } = BudgetWindow.Day;

    /// <summary>Gets or sets the length of a <see cref="BudgetWindow.Rolling"/> window; required for it and not allowed otherwise.</summary>
    /// <value>The default value is <see langword="null"/>.</value>
    [Range(typeof(TimeSpan), "00:00:10", "3650.00:00:00")]
    public TimeSpan? RollingDuration { get; set; }

    /// <summary>
    /// Gets or sets the time zone (IANA or Windows id) whose calendar the <see cref="BudgetWindow.Hour"/>,
    /// <see cref="BudgetWindow.Day"/> and <see cref="BudgetWindow.Month"/> windows follow.
    /// </summary>
    /// <value>The default value is <c>UTC</c>.</value>
    [Required]
    public string TimeZone { get; set; } = "UTC";

    /// <summary>
    /// Gets or sets the most money (in the price catalog's currency) the scope may spend in a window, or
    /// <see langword="null"/> when the budget limits calls only. At most 9,000,000.
    /// </summary>
    /// <value>The default value is <see langword="null"/>.</value>
    public decimal? Limit { get; set; }

    /// <summary>
    /// Gets or sets limits for particular scope values that replace <see cref="Limit"/>, keyed by the values of the
    /// <see cref="Per"/> dimensions joined with <c>/</c> (for <c>Per = [Tenant, Feature]</c>: <c>"acme/chat"</c>), for
    /// example a tenant on a bigger plan.
    /// </summary>
    /// <value>The default value is empty.</value>
    public IDictionary<string, decimal> ScopeLimits { get; set; } = new Dictionary<string, decimal>(StringComparer.Ordinal);

    /// <summary>Gets or sets the most calls the scope may make in a window (the runaway-agent guard), or <see langword="null"/> for no call limit.</summary>
    /// <value>The default value is <see langword="null"/>.</value>
    [Range(1L, long.MaxValue)]
    public long? MaxCalls { get; set; }

    /// <summary>Gets or sets what happens to a call the budget has no room for.</summary>
    /// <value>The default value is <see cref="BudgetAction.Refuse"/>.</value>
    [EnumDataType(typeof(BudgetAction))]
    public BudgetAction Action { get; set; } = BudgetAction.Refuse;

    /// <summary>Gets or sets the cheaper model that <see cref="BudgetAction.SwitchModel"/> sends calls to; required for that action.</summary>
    /// <value>The default value is <see langword="null"/>.</value>
    public string? FallbackModelId { get; set; }

    /// <summary>
    /// Gets or sets the fractions of the limit (in (0, 1]) at which settled spend raises
    /// <see cref="BudgetOptions.OnThresholdCrossed"/>, a log entry and a metric, once per threshold per window.
    /// </summary>
    /// <value>The default value is <see langword="null"/>, which means 0.5, 0.8 and 1.0.</value>
    public IList<double>? Thresholds { get; set; }

    internal BudgetDefinition Clone()
    {
        BudgetDefinition copy = (BudgetDefinition)MemberwiseClone();
        copy.Per = [.. Per];
        copy.Where = new Dictionary<CostScopeDimension, string>(Where);
        copy.ScopeLimits = new Dictionary<string, decimal>(ScopeLimits, StringComparer.Ordinal);
        copy.Thresholds = Thresholds is null ? null : [.. Thresholds];
        return copy;
    }
}

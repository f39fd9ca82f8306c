using System.ComponentModel.DataAnnotations;

namespace CostAware;

/// <summary>Options of the <see cref="BudgetChatClient"/> stage.</summary>
/// <remarks>
/// Bound from the <c>CostAware:Budget</c> configuration section by <c>AddCostAware</c>; <c>UseBudget</c> starts from those
/// values and applies its own <c>configure</c> callback to a copy. When the configuration reloads, the stage picks up
/// the new budgets and limits for the calls that follow (calls in flight keep the limits they were admitted under).
/// This type is a mutable bag for configuration; it is not thread-safe.
/// </remarks>
public sealed class BudgetOptions
{
    /// <summary>Gets or sets the budgets, by name. Every budget that applies to a call must admit it.</summary>
    /// <value>The default value is empty: the stage admits everything and only meters.</value>
    public IDictionary<string, BudgetDefinition> Budgets { get; set; } = new Dictionary<string, BudgetDefinition>(StringComparer.Ordinal);

    /// <summary>
    /// Gets or sets the most output tokens a call is reserved for. A call that asks for more, or sets no
    /// <c>MaxOutputTokens</c>, is reserved at this ceiling (or at the model's own output limit from the price catalog,
    /// when that is lower), so that one request cannot pin a budget.
    /// </summary>
    /// <value>The default value is 16,384.</value>
    [Range(1, int.MaxValue)]
    public int MaxOutputTokensCeiling { get; set; } = 16_384;

    /// <summary>
    /// Gets or sets a value indicating whether a call that asks for more output than <see cref="MaxOutputTokensCeiling"/>
    /// (or sets no limit) is sent with <c>MaxOutputTokens</c> set to the ceiling, so that its cost cannot run past its
    /// reservation. Turn it off to leave the request as it is; a call that then costs more than it reserved is still
    /// counted in full, and may take a budget over its limit.
    /// </summary>
    /// <value>The default value is <see langword="true"/>.</value>
    public bool LimitOutputToCeiling { get; set; } = true;

    /// <summary>
    /// Gets or sets the margin added to the tokenizer's count of input tokens when reserving (0.1 reserves 10 % more),
    /// for what the tokenizer cannot see: tool schemas as the provider renders them, images, provider-side prompts.
    /// </summary>
    /// <value>The default value is 0.1.</value>
    [Range(0d, 10d)]
    public double InputEstimateMargin { get; set; } = 0.1;

    /// <summary>Gets or sets the fewest output tokens <see cref="BudgetAction.ClampOutput"/> will clamp a call to; a call that cannot afford even these is refused.</summary>
    /// <value>The default value is 64.</value>
    [Range(1, int.MaxValue)]
    public int MinimumOutputTokens { get; set; } = 64;

    /// <summary>
    /// Gets or sets how long a reservation lives if it is never settled (its process died). Calls that take longer are
    /// still counted in full when they settle; only their hold on the budget lapses.
    /// </summary>
    /// <value>The default value is 10 minutes.</value>
    [Range(typeof(TimeSpan), "00:00:01", "1.00:00:00")]
    public TimeSpan ReservationTimeout { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>Gets or sets what happens when the budget store cannot be reached.</summary>
    /// <value>The default value is <see cref="BudgetStoreFailureMode.FailClosed"/>.</value>
    [EnumDataType(typeof(BudgetStoreFailureMode))]
    public BudgetStoreFailureMode StoreFailureMode { get; set; } = BudgetStoreFailureMode.FailClosed;

    /// <summary>
    /// Gets or sets a value indicating whether a refused streaming call throws <see cref="BudgetExceededException"/> from
    /// the stream (the default, as a refused non-streaming call does), instead of yielding one update with an
    /// <c>ErrorContent</c> (code <c>budget_exceeded</c>) that says why. A consumer that only concatenates text would see
    /// an empty answer and no error from the latter: turn it off only where the consumer reads <c>ErrorContent</c>.
    /// </summary>
    /// <value>The default value is <see langword="true"/>.</value>
    public bool ThrowOnRefusedStream { get; set; } = true;

    /// <summary>
    /// Gets or sets what happens to a call under a budget whose model has no price in the catalog (a fine-tune, a local
    /// model, a deployment name the catalog does not know): such a call cannot be bounded before it is made.
    /// </summary>
    /// <value>The default value is <see cref="UnpricedCallPolicy.Refuse"/>.</value>
    [EnumDataType(typeof(UnpricedCallPolicy))]
    public UnpricedCallPolicy UnpricedCalls { get; set; } = UnpricedCallPolicy.Refuse;

    /// <summary>
    /// Gets or sets a value indicating whether a call that a budget has no money left for may still be answered from the
    /// prompt cache or the semantic cache, at no cost. Such a call never reaches a provider: without a cached answer it is
    /// refused with the budget's <see cref="BudgetExceededException"/>. Call-count limits (<see cref="BudgetDefinition.MaxCalls"/>)
    /// still refuse it.
    /// </summary>
    /// <value>The default value is <see langword="false"/>: a spent budget refuses every call.</value>
    /// <remarks>Needs <c>UseTokenMetering()</c> innermost, which refuses any provider call such an admission would make.</remarks>
    public bool ServeCacheHitsWhenExhausted { get; set; }

    /// <summary>Gets or sets a value indicating whether receipts opened by this stage are recorded to the <see cref="ICostLedger"/>.</summary>
    /// <value>The default value is <see langword="true"/>.</value>
    public bool RecordToLedger { get; set; } = true;

    /// <summary>Gets or sets a callback raised when settled spend crosses one of a budget's thresholds (once per threshold per window).</summary>
    /// <value>The default value is <see langword="null"/>.</value>
    /// <remarks>It runs after the call that crossed it has been answered; an exception it throws is logged and ignored.</remarks>
    public Func<BudgetThresholdArguments, ValueTask>? OnThresholdCrossed { get; set; }

    /// <summary>Gets or sets a callback raised when a budget has no room for a call: whether the call was refused, degraded or let through.</summary>
    /// <value>The default value is <see langword="null"/>.</value>
    /// <remarks>It runs before the call goes on (or is refused); an exception it throws is logged and ignored.</remarks>
    public Func<BudgetExceededArguments, ValueTask>? OnBudgetExceeded { get; set; }

    internal BudgetOptions Clone()
    {
        BudgetOptions copy = (BudgetOptions)MemberwiseClone();
        copy.Budgets = new Dictionary<string, BudgetDefinition>(StringComparer.Ordinal);
        foreach (KeyValuePair<string, BudgetDefinition> pair in Budgets)
        {
            copy.Budgets[pair.Key] = pair.Value.Clone();
        }

        return copy;
    }
}

using System.Globalization;

namespace CostAware;

/// <summary>
/// Thrown when a call is refused because a budget does not have room for it: the money it may cost, or one more call
/// of a run that is limited in calls. The call was not made and nothing was paid for it.
/// </summary>
/// <remarks>
/// Amounts are in the price catalog's currency (US dollars for the built-in catalog). <see cref="Spent"/> and
/// <see cref="Reserved"/> are the budget's state when the call was refused: settled spend, and the worst-case cost of
/// calls in flight.
/// </remarks>
public sealed class BudgetExceededException : CostAwareException
{
    /// <summary>Initializes a new instance of the <see cref="BudgetExceededException"/> class.</summary>
    public BudgetExceededException()
        : base("A budget has no room for the call.")
    {
        BudgetName = string.Empty;
        ScopeKey = string.Empty;
    }

    /// <summary>Initializes a new instance of the <see cref="BudgetExceededException"/> class with a message.</summary>
    /// <param name="message">The message.</param>
    public BudgetExceededException(string message)
        : base(message)
    {
        BudgetName = string.Empty;
        ScopeKey = string.Empty;
    }

    /// <summary>Initializes a new instance of the <see cref="BudgetExceededException"/> class with a message and a cause.</summary>
    /// <param name="message">The message.</param>
    /// <param name="innerException">The cause.</param>
    public BudgetExceededException(string message, Exception? innerException)
        : base(message, innerException)
    {
        BudgetName = string.Empty;
        ScopeKey = string.Empty;
    }

    /// <summary>Initializes a new instance of the <see cref="BudgetExceededException"/> class with the budget's state.</summary>
    /// <param name="budgetName">The budget that refused the call.</param>
    /// <param name="scopeKey">The scope the budget was counted for, as <c>dimension=value</c> pairs (<c>global</c> for none).</param>
    /// <param name="window">The budget's window.</param>
    /// <param name="resetsAt">When the window resets, or <see langword="null"/> for a lifetime budget.</param>
    /// <param name="limit">The money limit, or <see langword="null"/> when only calls are limited.</param>
    /// <param name="spent">The settled spend in the window.</param>
    /// <param name="reserved">The worst-case cost of calls in flight.</param>
    /// <param name="requested">The worst-case cost of the refused call.</param>
    /// <param name="maxCalls">The call limit, or <see langword="null"/> when calls are not limited.</param>
    /// <param name="calls">The calls made in the window.</param>
    public BudgetExceededException(
        string budgetName, string scopeKey, BudgetWindow window, DateTimeOffset? resetsAt, decimal? limit, decimal spent, decimal reserved, decimal requested, long? maxCalls, long calls)
        : base(Describe(budgetName, scopeKey, window, resetsAt, limit, spent, reserved, requested, maxCalls, calls))
    {
        BudgetName = budgetName;
        ScopeKey = scopeKey;
        Window = window;
        ResetsAt = resetsAt;
        Limit = limit;
        Spent = spent;
        Reserved = reserved;
        Requested = requested;
        MaxCalls = maxCalls;
        Calls = calls;
    }

    /// <summary>Gets the name of the budget that refused the call.</summary>
    public string BudgetName { get; }

    /// <summary>Gets the scope the budget was counted for, as <c>dimension=value</c> pairs joined by commas, or <c>global</c>.</summary>
    public string ScopeKey { get; }

    /// <summary>Gets the budget's window.</summary>
    public BudgetWindow Window { get; }

    /// <summary>Gets when the window resets and the budget has room again, or <see langword="null"/> for a lifetime budget.</summary>
    public DateTimeOffset? ResetsAt { get; }

    /// <summary>Gets the money limit, or <see langword="null"/> when the budget limits calls only.</summary>
    public decimal? Limit { get; }

    /// <summary>Gets the settled spend in the window.</summary>
    public decimal Spent { get; }

    /// <summary>Gets the worst-case cost of the calls in flight that hold reservations.</summary>
    public decimal Reserved { get; }

    /// <summary>Gets the worst-case cost of the refused call.</summary>
    public decimal Requested { get; }

    /// <summary>Gets the call limit, or <see langword="null"/> when calls are not limited.</summary>
    public long? MaxCalls { get; }

    /// <summary>Gets the number of calls made in the window (for a run-scoped budget: by the run so far).</summary>
    public long Calls { get; }

    /// <summary>Gets a value indicating whether the call was refused for the number of calls rather than for money.</summary>
    public bool IsCallLimit => CallLimited(Limit, Spent, Reserved, Requested, MaxCalls, Calls);

    // Refused for the number of calls, not for money: the call limit is reached while the money would still fit.
    private static bool CallLimited(decimal? limit, decimal spent, decimal reserved, decimal requested, long? maxCalls, long calls) =>
        maxCalls is { } max && calls >= max && (limit is null || spent + reserved + requested <= limit);

    private static string Describe(
        string budgetName, string scopeKey, BudgetWindow window, DateTimeOffset? resetsAt, decimal? limit, decimal spent, decimal reserved, decimal requested, long? maxCalls, long calls)
    {
        string when = resetsAt is { } reset
            ? string.Create(CultureInfo.InvariantCulture, $"; the {window.ToString().ToLowerInvariant()} window resets at {reset:yyyy-MM-dd'T'HH:mm:ssK}")
            : "; it is a lifetime budget and does not reset";
        if (CallLimited(limit, spent, reserved, requested, maxCalls, calls))
        {
            return string.Create(
                CultureInfo.InvariantCulture,
                $"Budget '{budgetName}' for {scopeKey} allows {maxCalls} calls and {calls} have been made, costing {spent:0.######} so far{when}.");
        }

        return string.Create(
            CultureInfo.InvariantCulture,
            $"Budget '{budgetName}' for {scopeKey} has no room for this call: limit {limit:0.######}, spent {spent:0.######}, reserved by calls in flight {reserved:0.######}, this call may cost up to {requested:0.######} ({calls} calls so far){when}.");
    }
}

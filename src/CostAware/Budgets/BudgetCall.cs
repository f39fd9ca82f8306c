using Microsoft.Extensions.AI;

namespace CostAware.Internal;

// One call a budget stage holds to its budgets: the budgets that apply, their counter lines, and what the call is estimated
// to need.
internal sealed record class BudgetCall(
    BudgetConfiguration Configuration,
    CostScope Scope,
    CompiledBudget[] Budgets,
    BudgetLine[] Lines,
    BudgetPeriod[] Periods,
    CostCallContext Context,
    bool Owned,
    int FirstEntry,
    IEnumerable<ChatMessage> Messages,
    string? ModelId,
    ModelPrice? Price,
    long InputTokens,
    int OutputTokens,
    string ReservationId)
{
    public Deferral? Deferral { get; init; }

    public CostReceipt Receipt => Context.Receipt;

    public BudgetStatus Status(int line, BudgetCounterState state) => Budgets[line].Status(Scope, Lines[line], Periods[line], state);
}

// What admission granted a call: the amount reserved (growing with top-ups), and the model, output limit and deferral
// it was admitted with; or the refusal, or leave to be answered from a cache only.
internal sealed class BudgetAdmission(
    long amount, string? modelId, ModelPrice? price, int outputTokens, bool batch, Deferral? deferral, bool isUnchecked, BudgetExceededException? refusal, BudgetStatus? refusedStatus)
{
    private long _amount = amount;
    private int _settled;

    // What is reserved in the store for the call, in store units; it grows with every top-up.
    public long Amount => Volatile.Read(ref _amount);

    public string? ModelId { get; } = modelId;

    public ModelPrice? Price { get; } = price;

    public int OutputTokens { get; } = outputTokens;

    public bool Batch { get; } = batch;

    public Deferral? Deferral { get; } = deferral;

    public bool Unchecked { get; } = isUnchecked;

    // Admitted only to be answered from a cache: nothing is reserved, and every provider call is refused.
    public bool CacheOnly { get; init; }

    public BudgetExceededException? Refusal { get; } = refusal;

    public BudgetStatus? RefusedStatus { get; } = refusedStatus;

    public bool IsSettled => Volatile.Read(ref _settled) != 0;

    public void AddReserved(long extra) => Interlocked.Add(ref _amount, extra);

    public void MarkSettled() => Volatile.Write(ref _settled, 1);
}

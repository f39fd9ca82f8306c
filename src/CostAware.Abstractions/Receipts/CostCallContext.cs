using System.Collections.Immutable;
using Microsoft.Extensions.AI;

namespace CostAware;

/// <summary>
/// What the CostAware stages of a pipeline share about one call: the <see cref="CostReceipt"/> every stage charges, the
/// <see cref="CostScope"/> it is charged to, the budgets that admitted it, and the work that still charges it after its
/// caller has stopped waiting. This is the stage contract: a stage written outside CostAware joins it the same way.
/// </summary>
/// <remarks>
/// <para>
/// The outermost stage that sees a call opens its context with <see cref="FindOrOpen"/>, passes it inward on the options
/// it forwards (<see cref="Forward"/>), and, when the call is over and <see cref="WhenIdleAsync"/> has completed, records the
/// receipt and <see cref="Close">closes</see> the context. Inner stages find the context with <see cref="Find"/> and add
/// their entries to <see cref="Receipt"/>; they never record it.
/// </para>
/// <para>
/// The context travels in <see cref="ChatOptions.AdditionalProperties"/> under <see cref="CostAwareProperties.CallContext"/>,
/// but nothing a caller can put into those properties is ever taken for it: only an instance created by
/// <see cref="FindOrOpen"/> and not yet closed is found. A <see cref="CostReceipt"/>, a copied response's properties or a
/// deserialised value under CostAware's keys is ignored, so a caller cannot choose the receipt a call is charged to, the
/// partition a cache reads, or the price a call is metered at.
/// </para>
/// <para>This type is thread-safe.</para>
/// </remarks>
public sealed class CostCallContext
{
    // Lock-free: a context is opened for every metered call, so it holds no lock object of its own.
    private ImmutableArray<ICostCallBudget> _budgets = [];
    private int _pendingWork;
    private TaskCompletionSource? _idle;
    private string? _unaccountedReason;
    private int _closedFlag;

    private CostCallContext(CostReceipt receipt) => Receipt = receipt;

    /// <summary>Gets the receipt every stage adds this call's entries to.</summary>
    public CostReceipt Receipt { get; }

    /// <summary>Gets who pays for the call, resolved once when the context was opened.</summary>
    public CostScope Scope => Receipt.Scope;

    /// <summary>Gets a value indicating whether the stage that opened the context has finished with it.</summary>
    public bool IsClosed => Volatile.Read(ref _closedFlag) != 0;

    /// <summary>Gets the budgets that admitted the call, outermost first; empty when no budget applies.</summary>
    public ImmutableArray<ICostCallBudget> Budgets => _budgets;

    /// <summary>
    /// Gets a value indicating whether a budget admitted the call only to be answered from a cache: a stage that would
    /// otherwise call a provider fails the call with the budget's refusal instead (see <see cref="AdmitProviderCallAsync"/>).
    /// </summary>
    public bool IsCacheOnly
    {
        get
        {
            foreach (ICostCallBudget budget in _budgets)
            {
                if (budget.IsCacheOnly)
                {
                    return true;
                }
            }

            return false;
        }
    }

    /// <summary>Gets a value indicating whether work that charges this call is still running (see <see cref="BeginWork"/>).</summary>
    public bool HasPendingWork => Volatile.Read(ref _pendingWork) > 0;

    /// <summary>
    /// Gets why part of this call's cost cannot reach <see cref="Receipt"/> (for example, it was deferred to a batch whose
    /// answer arrives after the call returned), or <see langword="null"/> when the receipt is complete. A budget then
    /// counts the call at what it reserved rather than at what the receipt says.
    /// </summary>
    public string? UnaccountedCostReason => Volatile.Read(ref _unaccountedReason);

    /// <summary>
    /// Finds the context an outer stage opened for this call, or opens one: a new receipt for the scope these options
    /// resolve to (the per-call scope over the ambient one).
    /// </summary>
    /// <param name="options">The options the stage was called with, or <see langword="null"/>.</param>
    /// <param name="timeProvider">The clock the receipt is dated by.</param>
    /// <param name="opened"><see langword="true"/> when this call opened the context: the caller then owns it, records its receipt and closes it.</param>
    /// <returns>The context; never <see langword="null"/>.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="timeProvider"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException">A CostAware key in <paramref name="options"/> holds a value of the wrong type.</exception>
    public static CostCallContext FindOrOpen(ChatOptions? options, TimeProvider timeProvider, out bool opened)
    {
        ArgumentNullException.ThrowIfNull(timeProvider);
        if (Find(options) is { } existing)
        {
            opened = false;
            return existing;
        }

        opened = true;
        DateTimeOffset now = timeProvider.GetUtcNow();
        return new CostCallContext(new CostReceipt(ReceiptIds.Next(now), options.ResolveCostScope(), now));
    }

    /// <summary>Finds the open context an outer CostAware stage passed on these options.</summary>
    /// <param name="options">The options, or <see langword="null"/>.</param>
    /// <returns>The context, or <see langword="null"/> when no stage outside opened one (or it is already closed).</returns>
    public static CostCallContext? Find(ChatOptions? options) =>
        options?.AdditionalProperties is { } properties
        && properties.TryGetValue(CostAwareProperties.CallContext, out object? value)
        && value is CostCallContext { IsClosed: false } context
            ? context
            : null;

    /// <summary>
    /// Returns the options an inner stage receives: a copy of <paramref name="options"/> (never the caller's instance)
    /// carrying this context and its resolved scope.
    /// </summary>
    /// <param name="options">The options to copy, or <see langword="null"/>.</param>
    /// <returns>A new options instance.</returns>
    public ChatOptions Forward(ChatOptions? options)
    {
        ChatOptions forwarded = options?.Clone() ?? new ChatOptions();
        AdditionalPropertiesDictionary properties = forwarded.AdditionalProperties is { } existing ? new(existing) : [];

        // A receipt a caller put on the options is never a stage's: it is dropped, not forwarded.
        _ = properties.Remove(CostAwareProperties.Receipt);
        properties[CostAwareProperties.CallContext] = this;
        properties[CostAwareProperties.Scope] = Scope;
        forwarded.AdditionalProperties = properties;
        return forwarded;
    }

    /// <summary>Adds a budget that admitted this call; called by a budget stage before it forwards the call.</summary>
    /// <param name="budget">The budget.</param>
    /// <exception cref="ArgumentNullException"><paramref name="budget"/> is <see langword="null"/>.</exception>
    public void AddBudget(ICostCallBudget budget)
    {
        ArgumentNullException.ThrowIfNull(budget);
        ImmutableInterlocked.Update(ref _budgets, static (list, added) => list.Add(added), budget);
    }

    /// <summary>
    /// Asks every budget that admitted this call for room for one real provider call, before it is made. The stage that
    /// makes provider calls (the innermost metering stage) calls this for each one, so that a cascade's extra tiers, a
    /// judge, a retry or a call sent synchronously after it was reserved at batch price is paid for only when it fits.
    /// </summary>
    /// <param name="messages">The messages the provider will receive.</param>
    /// <param name="options">The options the provider will receive.</param>
    /// <param name="modelId">The model the call goes to, or <see langword="null"/> when unknown.</param>
    /// <param name="batch">Whether the call is billed at batch prices.</param>
    /// <param name="cancellationToken">Cancels the admission.</param>
    /// <returns>A lease to dispose once the call's cost is on <see cref="Receipt"/> (or the call failed).</returns>
    /// <exception cref="ArgumentNullException"><paramref name="messages"/> is <see langword="null"/>.</exception>
    /// <exception cref="BudgetExceededException">A budget has no room for the call; nothing was reserved.</exception>
    public async ValueTask<IDisposable> AdmitProviderCallAsync(
        IEnumerable<ChatMessage> messages, ChatOptions? options, string? modelId, bool batch, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(messages);
        ImmutableArray<ICostCallBudget> budgets = _budgets;
        if (budgets.IsEmpty)
        {
            return NoLease.Instance;
        }

        if (budgets.Length == 1)
        {
            return await budgets[0].AdmitProviderCallAsync(this, messages, options, modelId, batch, cancellationToken).ConfigureAwait(false);
        }

        IDisposable[] leases = new IDisposable[budgets.Length];
        int admitted = 0;
        try
        {
            for (; admitted < budgets.Length; admitted++)
            {
                leases[admitted] = await budgets[admitted].AdmitProviderCallAsync(this, messages, options, modelId, batch, cancellationToken).ConfigureAwait(false);
            }
        }
        catch
        {
            for (int i = 0; i < admitted; i++)
            {
                leases[i].Dispose();
            }

            throw;
        }

        return new Leases(leases);
    }

    /// <summary>Gets the least money any budget of this call has left, or <see langword="null"/> when no budget limits it.</summary>
    /// <param name="cancellationToken">Cancels the query.</param>
    /// <returns>The money left, in the catalog's currency, or <see langword="null"/>.</returns>
    public async ValueTask<decimal?> GetRemainingBudgetAsync(CancellationToken cancellationToken)
    {
        decimal? least = null;
        foreach (ICostCallBudget budget in _budgets)
        {
            if (await budget.GetRemainingAsync(cancellationToken).ConfigureAwait(false) is decimal left)
            {
                least = least is null ? left : Math.Min(least.Value, left);
            }
        }

        return least;
    }

    /// <summary>
    /// Registers work that charges this call and may outlive its caller (a shared cache miss another caller still waits
    /// for, a provider call that is finishing): the stage that opened the context settles and records only after every
    /// such work has ended.
    /// </summary>
    /// <returns>A handle; dispose it when the work has put its cost on <see cref="Receipt"/>, or has failed.</returns>
    /// <exception cref="InvalidOperationException">The context is already closed.</exception>
    public IDisposable BeginWork()
    {
        // Counted first, then checked: with Close's full fence, either this sees the close and backs out, or whoever
        // closed sees the work.
        _ = Interlocked.Increment(ref _pendingWork);
        if (Volatile.Read(ref _closedFlag) != 0)
        {
            EndWork();
            ThrowClosed();
        }

        return new Work(this);
    }

    /// <summary>Returns a task that completes when no work registered with <see cref="BeginWork"/> is running.</summary>
    /// <returns>A task; completed already when there is none.</returns>
    public Task WhenIdleAsync()
    {
        if (Volatile.Read(ref _pendingWork) == 0)
        {
            return Task.CompletedTask;
        }

        TaskCompletionSource created = new(TaskCreationOptions.RunContinuationsAsynchronously);
        TaskCompletionSource idle = Interlocked.CompareExchange(ref _idle, created, null) ?? created;

        // The last work may have ended between the first check and the completion source being published.
        if (Volatile.Read(ref _pendingWork) == 0)
        {
            Interlocked.Exchange(ref _idle, null)?.TrySetResult();
            _ = idle.TrySetResult();
        }

#pragma warning disable VSTHRD003 // The context's own completion source, completed with continuations run asynchronously.
        return idle.Task;
#pragma warning restore VSTHRD003
    }

    /// <summary>
    /// Records that part of this call's cost will not reach <see cref="Receipt"/> before the call is settled (for example,
    /// a call deferred to a batch API whose answer arrives later): budgets then count the call at what they reserved for it.
    /// </summary>
    /// <param name="reason">Why, for logs.</param>
    /// <exception cref="ArgumentException"><paramref name="reason"/> is <see langword="null"/> or empty.</exception>
    public void MarkCostUnaccounted(string reason)
    {
        ArgumentException.ThrowIfNullOrEmpty(reason);
        _ = Interlocked.CompareExchange(ref _unaccountedReason, reason, null);
    }

    /// <summary>Closes the context: it is no longer found on options, and no more work may begin on it. Called by the stage that opened it.</summary>
    public void Close() => _ = Interlocked.Exchange(ref _closedFlag, 1);

    [System.Diagnostics.CodeAnalysis.DoesNotReturn]
    private static void ThrowClosed() =>
        throw new InvalidOperationException("The call's context is closed: its receipt was already settled, so no more work may charge it.");

    private void EndWork()
    {
        if (Interlocked.Decrement(ref _pendingWork) == 0)
        {
            Interlocked.Exchange(ref _idle, null)?.TrySetResult();
        }
    }

    private sealed class Work(CostCallContext context) : IDisposable
    {
        private int _disposed;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 0)
            {
                context.EndWork();
            }
        }
    }

    private sealed class NoLease : IDisposable
    {
        public static readonly NoLease Instance = new();

        public void Dispose()
        {
        }
    }

    private sealed class Leases(IDisposable[] leases) : IDisposable
    {
        public void Dispose()
        {
            foreach (IDisposable lease in leases)
            {
                lease.Dispose();
            }
        }
    }
}

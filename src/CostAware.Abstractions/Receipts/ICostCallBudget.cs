using Microsoft.Extensions.AI;

namespace CostAware;

/// <summary>
/// A budget's hold on one call, offered to the stages inside the budget stage through
/// <see cref="CostCallContext.AddBudget"/>: how much money is left, and room for each real provider call before it is made.
/// </summary>
/// <remarks>Implementations are thread-safe: the provider calls of one request may run concurrently.</remarks>
public interface ICostCallBudget
{
    /// <summary>Gets a value indicating whether the call was admitted only to be answered from a cache (its budget has no room for a provider call).</summary>
    bool IsCacheOnly { get; }

    /// <summary>Gets the money this budget has left for the call's scope, or <see langword="null"/> when it sets no money limit.</summary>
    /// <param name="cancellationToken">Cancels the query.</param>
    /// <returns>The money left, in the catalog's currency; negative when the budget is overspent.</returns>
    ValueTask<decimal?> GetRemainingAsync(CancellationToken cancellationToken);

    /// <summary>Reserves room for one real provider call of the call, at its worst-case cost, before it is made.</summary>
    /// <param name="context">The call's context.</param>
    /// <param name="messages">The messages the provider will receive.</param>
    /// <param name="options">The options the provider will receive.</param>
    /// <param name="modelId">The model the call goes to, or <see langword="null"/>.</param>
    /// <param name="batch">Whether the call is billed at batch prices.</param>
    /// <param name="cancellationToken">Cancels the reservation.</param>
    /// <returns>A lease to dispose once the provider call's cost is on the receipt, or it failed.</returns>
    /// <exception cref="BudgetExceededException">There is no room for the call.</exception>
    ValueTask<IDisposable> AdmitProviderCallAsync(
        CostCallContext context, IEnumerable<ChatMessage> messages, ChatOptions? options, string? modelId, bool batch, CancellationToken cancellationToken);
}

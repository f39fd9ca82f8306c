using Microsoft.Extensions.AI;

namespace CostAware;

/// <summary>Chooses, before any call, the tier a request starts at: tiers that would not pass are skipped.</summary>
/// <remarks>Implementations must be thread-safe.</remarks>
public interface ICascadeRouter
{
    /// <summary>Returns the index of the first tier to call.</summary>
    /// <param name="messages">The request's messages.</param>
    /// <param name="options">The request's options.</param>
    /// <param name="tierCount">The number of tiers.</param>
    /// <param name="cancellationToken">Cancels the decision.</param>
    /// <returns>A tier index in [0, <paramref name="tierCount"/>).</returns>
    ValueTask<int> SelectStartTierAsync(IReadOnlyList<ChatMessage> messages, ChatOptions? options, int tierCount, CancellationToken cancellationToken);
}

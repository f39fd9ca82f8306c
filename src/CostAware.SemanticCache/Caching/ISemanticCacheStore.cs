namespace CostAware;

/// <summary>
/// Where semantic-cache entries are kept beyond one process, so that every node serves what any node stored. The
/// store is the source of truth (with each entry's expiry); each node keeps a local index replica, filled at start-up
/// from <see cref="LoadAllAsync"/> and kept current by the notifications of <see cref="SubscribeAsync"/>.
/// </summary>
/// <remarks>
/// CostAware.Redis implements it on Redis (entries as keys with a TTL, notifications through pub/sub). Implementations
/// must be thread-safe.
/// </remarks>
public interface ISemanticCacheStore
{
    /// <summary>Stores an entry until it expires, and tells every subscribed node about it.</summary>
    /// <param name="record">The entry.</param>
    /// <param name="cancellationToken">The token to monitor for cancellation requests.</param>
    /// <returns>A task that completes when the entry is stored.</returns>
    ValueTask SaveAsync(SemanticCacheRecord record, CancellationToken cancellationToken = default);

    /// <summary>Removes the entries of one group (a tenant or a shared partition), or all, and tells every subscribed node.</summary>
    /// <param name="group">The group, as in <see cref="SemanticCacheRecord.Group"/>; <see langword="null"/> for every entry.</param>
    /// <param name="cancellationToken">The token to monitor for cancellation requests.</param>
    /// <returns>A task that completes when the entries are removed.</returns>
    ValueTask RemoveGroupAsync(string? group, CancellationToken cancellationToken = default);

    /// <summary>Reads every entry that has not expired: how a node that starts late catches up.</summary>
    /// <param name="cancellationToken">The token to monitor for cancellation requests.</param>
    /// <returns>The entries; a damaged entry is skipped, not thrown.</returns>
    IAsyncEnumerable<SemanticCacheRecord> LoadAllAsync(CancellationToken cancellationToken = default);

    /// <summary>Starts receiving what other nodes store and remove.</summary>
    /// <param name="onSaved">Called for each entry saved by any node (this one included).</param>
    /// <param name="onGroupRemoved">Called for each group removed by any node; <see langword="null"/> means every entry.</param>
    /// <param name="cancellationToken">The token to monitor for cancellation requests.</param>
    /// <returns>A handle that stops the notifications when disposed.</returns>
    ValueTask<IAsyncDisposable> SubscribeAsync(
        Action<SemanticCacheRecord> onSaved, Action<string?> onGroupRemoved, CancellationToken cancellationToken = default);
}

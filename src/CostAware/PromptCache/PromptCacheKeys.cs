using System.Collections.Concurrent;
using System.Collections.Frozen;
using CostAware.Shared;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Caching.Hybrid;

namespace CostAware.Internal;

// Where the exact cache stores a request: its key (partitioned by tenant or by a listed shared partition), the tags it
// can be invalidated by, and the HybridCache entry options for its cache control.
internal sealed class PromptCacheKeys
{
    private const int MaxCachedPartitions = 4096;

    private readonly PromptCacheKeyBuilder _builder;
    private readonly FrozenSet<string> _sharedPartitions;
    private readonly TimeSpan? _localTimeToLive;
    private readonly HybridCacheEntryOptions[] _defaultEntryOptions;
    private readonly ConcurrentDictionary<(string? Tenant, string? Shared), (string Id, string[] Tags)> _partitions = new();

    public PromptCacheKeys(PromptCacheOptions options)
    {
        _builder = new PromptCacheKeyBuilder(options.KeyPrefix, options.KeyAlgorithm);
        _sharedPartitions = options.SharedPartitions.ToFrozenSet(StringComparer.Ordinal);
        _localTimeToLive = options.LocalTimeToLive;

        // One shared options instance per combination of skipped read and skipped write, at the default lifetime.
        _defaultEntryOptions = new HybridCacheEntryOptions[4];
        for (int i = 0; i < _defaultEntryOptions.Length; i++)
        {
            _defaultEntryOptions[i] = CreateEntryOptions(skipRead: (i & 1) != 0, skipWrite: (i & 2) != 0, options.TimeToLive);
        }
    }

    // The tag on every entry of the stage (its key prefix).
    public string AllTag => _builder.AllTag;

    // The tag on every entry of a tenant (null: requests without one), or of a shared partition.
    public string PartitionTag(string? tenant, string? shared) => Partition(tenant, shared).Tags[1];

    // The key a request is stored under, or null when it cannot be keyed; tags are the ones to store it with.
    public string? TryBuild(
        IEnumerable<ChatMessage> messages, ChatOptions? options, ChatClientMetadata metadata, CacheControl? control, CostScope scope, out string[] tags)
    {
        string? shared = control?.SharedPartition;
        if (shared is not null && !_sharedPartitions.Contains(shared))
        {
            throw new ArgumentException(
                $"The request names the shared cache partition '{shared}', which PromptCacheOptions.SharedPartitions does not list. Add it there to let every tenant share its entries.",
                nameof(options));
        }

        (string partitionId, tags) = Partition(shared is null ? scope.Tenant : null, shared);
        return _builder.TryBuild(messages, options, metadata, scope.Tenant, shared, partitionId);
    }

    // The entry options a request's cache control asks for: a shared instance unless it sets its own lifetime.
    public HybridCacheEntryOptions EntryOptions(CacheControl? control) =>
        control is null
            ? _defaultEntryOptions[0]
            : control.TimeToLive is { } ttl
                ? CreateEntryOptions(control.SkipRead, control.SkipWrite, ttl)
                : _defaultEntryOptions[(control.SkipRead ? 1 : 0) | (control.SkipWrite ? 2 : 0)];

    // Partition ids and tag arrays are reused per tenant, up to a bound; beyond it they are built per call.
    private (string Id, string[] Tags) Partition(string? tenant, string? shared)
    {
        if (_partitions.TryGetValue((tenant, shared), out (string Id, string[] Tags) partition))
        {
            return partition;
        }

        string id = PromptCacheKeyBuilder.PartitionId(tenant, shared);
        partition = (id, [_builder.AllTag, _builder.PartitionTag(id)]);
        if (_partitions.Count < MaxCachedPartitions)
        {
            _ = _partitions.TryAdd((tenant, shared), partition);
        }

        return partition;
    }

    private HybridCacheEntryOptions CreateEntryOptions(bool skipRead, bool skipWrite, TimeSpan timeToLive)
    {
        HybridCacheEntryFlags flags = HybridCacheEntryFlags.None;
        if (skipRead)
        {
            flags |= HybridCacheEntryFlags.DisableLocalCacheRead | HybridCacheEntryFlags.DisableDistributedCacheRead;
        }

        if (skipWrite)
        {
            flags |= HybridCacheEntryFlags.DisableLocalCacheWrite | HybridCacheEntryFlags.DisableDistributedCacheWrite;
        }

        return new HybridCacheEntryOptions
        {
            Expiration = timeToLive,
            LocalCacheExpiration = _localTimeToLive is { } local && local < timeToLive ? local : timeToLive,
            Flags = flags,
        };
    }
}

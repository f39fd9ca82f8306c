using System.Runtime.CompilerServices;
using System.Text;
using StackExchange.Redis;

namespace CostAware;

/// <summary>
/// Keeps semantic-cache entries in Redis, the source of truth shared by every node: each entry is one key with the
/// entry's expiry as its TTL, and each save or removal is announced on a pub/sub channel so that every node's local
/// index replica follows. A node that starts late reads every key (<see cref="LoadAllAsync"/>).
/// </summary>
/// <remarks>
/// Keys are <c>{prefix}:e:{id}</c>; the channel is <c>{prefix}:events</c>. Saving an entry that is already stored keeps
/// what either copy learned (error-bounded mode), written with an optimistic transaction. A message lost while a node was
/// disconnected leaves that node without the entry until it restarts or the entry is saved again: the cost is a
/// miss, never a wrong answer. Thread-safe.
/// </remarks>
public sealed class RedisSemanticCacheStore : ISemanticCacheStore
{
    private const byte SavedMessage = (byte)'S';
    private const byte RemovedMessage = (byte)'R';
    private const int LoadBatch = 256;

    private readonly IConnectionMultiplexer _redis;
    private readonly string _entryPrefix;
    private readonly RedisChannel _channel;
    private readonly TimeProvider _timeProvider;

    /// <summary>Initializes a new instance of the <see cref="RedisSemanticCacheStore"/> class.</summary>
    /// <param name="redis">The connection.</param>
    /// <param name="keyPrefix">The prefix of every key and of the channel; nodes that share entries use the same one.</param>
    /// <param name="timeProvider">The clock for entries' TTLs; <see langword="null"/> uses <see cref="TimeProvider.System"/>.</param>
    /// <exception cref="ArgumentNullException"><paramref name="redis"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException"><paramref name="keyPrefix"/> is <see langword="null"/> or empty.</exception>
    public RedisSemanticCacheStore(IConnectionMultiplexer redis, string keyPrefix = "costaware:semantic", TimeProvider? timeProvider = null)
    {
        ArgumentNullException.ThrowIfNull(redis);
        ArgumentException.ThrowIfNullOrEmpty(keyPrefix);
        _redis = redis;
        _entryPrefix = keyPrefix + ":e:";
        _channel = RedisChannel.Literal(keyPrefix + ":events");
        _timeProvider = timeProvider ?? TimeProvider.System;
    }

    /// <inheritdoc />
    public async ValueTask SaveAsync(SemanticCacheRecord record, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(record);
        cancellationToken.ThrowIfCancellationRequested();
        TimeSpan ttl = record.ExpiresAt - _timeProvider.GetUtcNow();
        if (ttl <= TimeSpan.Zero)
        {
            return;
        }

        // Two nodes may learn about one entry at once (a confirmation here, a wrong answer there): the stored record
        // takes both, written only if nobody wrote it in between (else read again and merge again), so a node that
        // starts later never misses a lesson, above all a wrong answer.
        IDatabase db = _redis.GetDatabase();
        RedisKey key = _entryPrefix + record.Id;
        byte[] bytes;

        // First as a new key (one round trip for a new entry); only when a copy is there is it read and merged.
        RedisValue stored = RedisValue.Null;
        for (bool first = true; ; first = false)
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (!first)
            {
                stored = await db.StringGetAsync(key).ConfigureAwait(false);
            }

            SemanticCacheRecord merged = TryRead(stored) is { } earlier && earlier.Id == record.Id ? record.MergeLearning(earlier) : record;
            bytes = merged.ToBytes();
            ITransaction write = db.CreateTransaction();
            _ = write.AddCondition(stored.IsNull ? Condition.KeyNotExists(key) : Condition.StringEqual(key, stored));
            _ = write.StringSetAsync(key, bytes, ttl);
            if (await write.ExecuteAsync().ConfigureAwait(false))
            {
                break;
            }
        }

        byte[] message = new byte[bytes.Length + 1];
        message[0] = SavedMessage;
        bytes.CopyTo(message, 1);
        _ = await db.PublishAsync(_channel, message).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async ValueTask RemoveGroupAsync(string? group, CancellationToken cancellationToken = default)
    {
        IDatabase db = _redis.GetDatabase();
        List<RedisKey> keys = [];
        await foreach (RedisKey key in ScanAsync(cancellationToken).ConfigureAwait(false))
        {
            keys.Add(key);
        }

        for (int i = 0; i < keys.Count; i += LoadBatch)
        {
            RedisKey[] batch = keys.GetRange(i, Math.Min(LoadBatch, keys.Count - i)).ToArray();
            if (group is null)
            {
                _ = await db.KeyDeleteAsync(batch).ConfigureAwait(false);
                continue;
            }

            RedisValue[] values = await db.StringGetAsync(batch).ConfigureAwait(false);
            List<RedisKey> doomed = [];
            for (int j = 0; j < values.Length; j++)
            {
                if (TryRead(values[j]) is { } record && record.Group == group)
                {
                    doomed.Add(batch[j]);
                }
            }

            if (doomed.Count > 0)
            {
                _ = await db.KeyDeleteAsync([.. doomed]).ConfigureAwait(false);
            }
        }

        byte[] name = Encoding.UTF8.GetBytes(group ?? string.Empty);
        byte[] message = new byte[name.Length + 2];
        message[0] = RemovedMessage;
        message[1] = group is null ? (byte)0 : (byte)1;
        name.CopyTo(message, 2);
        _ = await db.PublishAsync(_channel, message).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async IAsyncEnumerable<SemanticCacheRecord> LoadAllAsync([EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        IDatabase db = _redis.GetDatabase();
        List<RedisKey> batch = new(LoadBatch);
        await foreach (RedisKey key in ScanAsync(cancellationToken).ConfigureAwait(false))
        {
            batch.Add(key);
            if (batch.Count == LoadBatch)
            {
                foreach (SemanticCacheRecord record in await ReadAsync(db, batch).ConfigureAwait(false))
                {
                    yield return record;
                }

                batch.Clear();
            }
        }

        foreach (SemanticCacheRecord record in await ReadAsync(db, batch).ConfigureAwait(false))
        {
            yield return record;
        }
    }

    /// <inheritdoc />
    public async ValueTask<IAsyncDisposable> SubscribeAsync(
        Action<SemanticCacheRecord> onSaved, Action<string?> onGroupRemoved, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(onSaved);
        ArgumentNullException.ThrowIfNull(onGroupRemoved);
        cancellationToken.ThrowIfCancellationRequested();
        ISubscriber subscriber = _redis.GetSubscriber();
        void Handler(RedisChannel channel, RedisValue value)
        {
            byte[]? message = value;
            if (message is not { Length: > 0 })
            {
                return;
            }

            if (message[0] == SavedMessage && TryRead(message.AsSpan(1)) is { } record)
            {
                onSaved(record);
            }
            else if (message[0] == RemovedMessage && message.Length >= 2)
            {
                onGroupRemoved(message[1] == 0 ? null : Encoding.UTF8.GetString(message, 2, message.Length - 2));
            }
        }

        Action<RedisChannel, RedisValue> handler = Handler;
        await subscriber.SubscribeAsync(_channel, handler).ConfigureAwait(false);
        return new Subscription(subscriber, _channel, handler);
    }

    private async IAsyncEnumerable<RedisKey> ScanAsync([EnumeratorCancellation] CancellationToken cancellationToken)
    {
        foreach (IServer server in _redis.GetServers())
        {
            if (server.IsReplica || !server.IsConnected)
            {
                continue;
            }

            await foreach (RedisKey key in server.KeysAsync(pattern: _entryPrefix + "*", pageSize: LoadBatch).WithCancellation(cancellationToken).ConfigureAwait(false))
            {
                yield return key;
            }
        }
    }

    private static async Task<List<SemanticCacheRecord>> ReadAsync(IDatabase db, List<RedisKey> keys)
    {
        List<SemanticCacheRecord> records = new(keys.Count);
        if (keys.Count == 0)
        {
            return records;
        }

        RedisValue[] values = await db.StringGetAsync([.. keys]).ConfigureAwait(false);
        foreach (RedisValue value in values)
        {
            if (TryRead(value) is { } record)
            {
                records.Add(record);
            }
        }

        return records;
    }

    // A damaged or foreign value is skipped: the node serves what it can read, and the key expires.
    private static SemanticCacheRecord? TryRead(ReadOnlySpan<byte> bytes)
    {
        try
        {
            return SemanticCacheRecord.FromBytes(bytes);
        }
        catch (InvalidDataException)
        {
            return null;
        }
    }

    private static SemanticCacheRecord? TryRead(RedisValue value) => value.IsNull ? null : TryRead(((byte[])value!).AsSpan());

    private sealed class Subscription(ISubscriber subscriber, RedisChannel channel, Action<RedisChannel, RedisValue> handler) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync() => await subscriber.UnsubscribeAsync(channel, handler).ConfigureAwait(false);
    }
}

using System.Buffers;
using System.Numerics.Tensors;
using CostAware.Shared;
using Microsoft.Extensions.Logging;

namespace CostAware.SemanticCache.Internal;

// The semantic cache's local replica and what keeps it in step with the world: the entries of this process (index,
// LRU, TTL), the distributed store they are shared through (subscription, catch-up, writes, invalidation) and
// snapshots. The stage decides what to serve; this owns where entries live. Thread-safe.
internal sealed class SemanticReplica : IDisposable
{
    private readonly SemanticEntryStore _store;
    private readonly ISemanticCacheStore? _distributed;
    private readonly TimeProvider _timeProvider;
    private readonly ILogger _logger;
    private readonly SemaphoreSlim _startGate = new(1, 1);
    private volatile bool _started;
    private IAsyncDisposable? _subscription;

    public SemanticReplica(SemanticIndexKind index, int maxEntries, ISemanticCacheStore? distributed, TimeProvider timeProvider, ILogger logger)
    {
        _store = new SemanticEntryStore(index, maxEntries);
        _distributed = distributed;
        _timeProvider = timeProvider;
        _logger = logger;
        _started = distributed is null;
    }

    public SemanticEntryStore Store => _store;

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _subscription, null) is { } subscription)
        {
            _ = subscription.DisposeAsync().AsTask().ContinueWith(
                static t => _ = t.Exception, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted, TaskScheduler.Default);
        }

        _store.Dispose();
        _startGate.Dispose();
    }

    // Stores a new answer here and, when there is a store, for every node.
    public async ValueTask AddAsync(string group, string partition, string prompt, float[] vector, PromptCacheEntry answer, TimeSpan timeToLive)
    {
        DateTimeOffset now = _timeProvider.GetUtcNow();
        byte[]? answerBytes = _distributed is null ? null : Serialize(answer);
        SemanticEntry stored = new(_store.NextId(), Guid.NewGuid().ToString("N"), group, partition, prompt, vector, answer, answerBytes, now + timeToLive);
        _ = _store.Add(stored, now);
        await SaveAsync(stored).ConfigureAwait(false);
    }

    public async Task<int> SaveSnapshotAsync(Stream destination, CancellationToken cancellationToken)
    {
        List<SemanticEntry> entries = _store.LiveEntries(_timeProvider.GetUtcNow());
        List<SemanticCacheRecord> records = new(entries.Count);
        foreach (SemanticEntry entry in entries)
        {
            records.Add(ToRecord(entry));
        }

        await SemanticSnapshot.WriteAsync(destination, records, cancellationToken).ConfigureAwait(false);
        return records.Count;
    }

    public async Task<int> RestoreSnapshotAsync(Stream source, CancellationToken cancellationToken)
    {
        List<SemanticCacheRecord> records = await SemanticSnapshot.ReadAsync(source, cancellationToken).ConfigureAwait(false);
        DateTimeOffset now = _timeProvider.GetUtcNow();
        List<SemanticEntry> entries = new(records.Count);
        foreach (SemanticCacheRecord record in records)
        {
            string? problem = TryCreateEntry(record, out SemanticEntry? entry);
            if (problem is not null)
            {
                throw new InvalidDataException($"The snapshot's entry '{record.Id}' is not usable: {problem}. Nothing was restored.");
            }

            if (entries.Count > 0 && entries[0].Vector.Length != entry!.Vector.Length)
            {
                throw new InvalidDataException("The snapshot mixes embeddings of different dimensions. Nothing was restored.");
            }

            if (entry!.ExpiresAt > now)
            {
                entries.Add(entry);
            }
        }

        _store.ReplaceAll(entries, now);
        return entries.Count;
    }

    public static bool IsUsable(ReadOnlySpan<float> vector)
    {
        foreach (float value in vector)
        {
            if (!float.IsFinite(value))
            {
                return false;
            }
        }

        float norm = TensorPrimitives.Norm(vector);
        return vector.Length > 0 && norm > 0f && float.IsFinite(norm);
    }

    // What an entry learned goes to the store, so other nodes (and a replica that starts later) learn it too; an entry
    // invalidated meanwhile is not written back (it would come back to life in the store).
    public ValueTask ShareLearningAsync(SemanticEntry entry) =>
        _distributed is null || !_store.Contains(entry.RecordId) ? ValueTask.CompletedTask : SaveAsync(entry);

    // Writes an entry to the store for every node; a store that fails leaves it in this process only (logged).
    private async ValueTask SaveAsync(SemanticEntry entry)
    {
        if (_distributed is null)
        {
            return;
        }

        try
        {
            await _distributed.SaveAsync(ToRecord(entry), CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            Log.StoreFailed(_logger, ex);
        }
    }

    private static byte[] Serialize(PromptCacheEntry entry)
    {
        ArrayBufferWriter<byte> writer = new();
        PromptCacheEntrySerializer.Instance.Serialize(entry, writer);
        return writer.WrittenSpan.ToArray();
    }

    private static SemanticCacheRecord ToRecord(SemanticEntry entry) => new()
    {
        Id = entry.RecordId,
        Group = entry.Group,
        Partition = entry.Partition,
        Prompt = entry.Prompt,
        Vector = entry.Vector,
        Answer = entry.AnswerBytes ??= Serialize(entry.Answer),
        ExpiresAt = entry.ExpiresAt,
        WrongAt = float.IsNegativeInfinity(entry.WrongAt) ? null : entry.WrongAt,
        Confirmations = entry.Confirmations,
        Aliases = entry.Aliases,
    };

    // An entry for the local replica from a record (a store or a snapshot), or why the record cannot be used.
    private string? TryCreateEntry(SemanticCacheRecord record, out SemanticEntry? entry)
    {
        entry = null;
        if (!IsUsable(record.Vector.Span))
        {
            return "its vector is empty, zero or not finite";
        }

        PromptCacheEntry answer = PromptCacheEntrySerializer.Instance.Deserialize(new ReadOnlySequence<byte>(record.Answer));
        if (!answer.IsValid)
        {
            return "its answer cannot be read (" + answer.InvalidReason + ")";
        }

        entry = new SemanticEntry(
            _store.NextId(), record.Id, record.Group, record.Partition, record.Prompt, record.Vector.ToArray(), answer, record.Answer.ToArray(), record.ExpiresAt);
        entry.Learn(record.WrongAt, record.Confirmations.Span, record.Aliases);
        return null;
    }

    private void OnRecordSaved(SemanticCacheRecord record)
    {
        try
        {
            DateTimeOffset now = _timeProvider.GetUtcNow();
            if (_store.Find(record.Id) is { } known)
            {
                // Another node learned about an entry this replica holds: take what it learned.
                known.Learn(record.WrongAt, record.Confirmations.Span, record.Aliases);
                return;
            }

            if (record.ExpiresAt <= now)
            {
                return;
            }

            string? problem = TryCreateEntry(record, out SemanticEntry? entry);
            if (problem is null && _store.Dimensions is { } dimensions && dimensions != entry!.Vector.Length)
            {
                problem = $"its embedding has {entry.Vector.Length} dimensions, this replica {dimensions}";
            }

            if (problem is not null)
            {
                Log.RecordSkipped(_logger, problem);
                return;
            }

            _ = _store.Add(entry!, now);
        }
        catch (Exception ex) when (ex is InvalidDataException or InvalidOperationException or ArgumentException)
        {
            Log.RecordSkipped(_logger, ex.Message);
        }
    }

    // Subscribes to the store and loads what it holds, once; a store that cannot be reached is retried on a later call.
    public async ValueTask EnsureStartedAsync(CancellationToken cancellationToken)
    {
        if (_started)
        {
            return;
        }

        await _startGate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (_started)
            {
                return;
            }

            _subscription ??= await _distributed!.SubscribeAsync(OnRecordSaved, group => _ = _store.RemoveGroup(group), cancellationToken).ConfigureAwait(false);
            int before = _store.Count;
            await foreach (SemanticCacheRecord record in _distributed!.LoadAllAsync(cancellationToken).ConfigureAwait(false))
            {
                OnRecordSaved(record);
            }

            Log.CaughtUp(_logger, _store.Count - before);
            _started = true;
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            Log.CatchUpFailed(_logger, ex);
        }
        finally
        {
            _startGate.Release();
        }
    }

    public async ValueTask RemoveGroupAsync(string? group, CancellationToken cancellationToken)
    {
        _ = _store.RemoveGroup(group);
        if (_distributed is not null)
        {
            await _distributed.RemoveGroupAsync(group, cancellationToken).ConfigureAwait(false);
        }
    }
}

using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging;

namespace CostAware.Batching.Internal;

// The embedded durable queue: one SQLite file, written with full synchronisation so that a call the caller was told
// is accepted survives a crash or power loss. Every state change is one conditional UPDATE (WHERE state = expected),
// so two schedulers (or a restarted one racing an old one) can never take, submit or complete a call twice.
internal sealed class SqliteDeferralQueue : IDeferralQueue, IAsyncDisposable
{
    private const string Schema = """
        PRAGMA journal_mode = WAL;
        CREATE TABLE IF NOT EXISTS calls (
            id TEXT PRIMARY KEY,
            provider TEXT NOT NULL,
            endpoint TEXT NOT NULL,
            model TEXT NULL,
            body BLOB NOT NULL,
            scope TEXT NULL,
            created_at INTEGER NOT NULL,
            deadline INTEGER NULL,
            state INTEGER NOT NULL,
            batch_id TEXT NULL,
            result BLOB NULL,
            error TEXT NULL,
            attempts INTEGER NOT NULL DEFAULT 0,
            delivery INTEGER NOT NULL DEFAULT 0,
            owner TEXT NULL);
        CREATE INDEX IF NOT EXISTS calls_by_state ON calls (state, provider, endpoint, created_at);
        CREATE INDEX IF NOT EXISTS calls_by_batch ON calls (batch_id);
        CREATE TABLE IF NOT EXISTS batches (
            id TEXT PRIMARY KEY,
            provider TEXT NOT NULL,
            endpoint TEXT NOT NULL,
            provider_batch_id TEXT NULL,
            created_at INTEGER NOT NULL,
            next_poll_at INTEGER NOT NULL,
            poll_count INTEGER NOT NULL DEFAULT 0,
            done INTEGER NOT NULL DEFAULT 0);
        """;

    private readonly string _connectionString;
    private readonly string _path;
    private readonly ILogger? _logger;
    private readonly SemaphoreSlim _writer = new(1, 1);
    private readonly AsyncLocal<bool> _holdsWriter = new();
    private SqliteConnection? _keeper;

    private SqliteDeferralQueue(string path, ILogger? logger)
    {
        _path = Path.GetFullPath(path);
        _logger = logger;
        _connectionString = new SqliteConnectionStringBuilder { DataSource = _path, Mode = SqliteOpenMode.ReadWriteCreate, Pooling = true }.ToString();
    }

    public string FilePath => _path;

    public int Restores { get; private set; }

    public static async Task<SqliteDeferralQueue> OpenAsync(string path, CancellationToken cancellationToken, ILogger? logger = null)
    {
        SqliteDeferralQueue queue = new(path, logger);
        string? directory = Path.GetDirectoryName(queue._path);
        if (directory is not null)
        {
            _ = Directory.CreateDirectory(directory);
        }

        try
        {
            await using SqliteConnection connection = await queue.ConnectAsync(cancellationToken).ConfigureAwait(false);
            await using SqliteCommand command = connection.CreateCommand();
            command.CommandText = Schema;
            _ = await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);

            // One connection stays open for the queue's lifetime: it keeps the file it opened reachable, so that if the
            // file is deleted under a running app, every accepted call can be copied back to the path (see EnsureFileAsync).
            queue._keeper = new SqliteConnection(queue._connectionString.Replace("Pooling=True", "Pooling=False", StringComparison.OrdinalIgnoreCase));
            await queue._keeper.OpenAsync(cancellationToken).ConfigureAwait(false);

            // A first read opens the write-ahead log and its index too, so the keeper holds every file the data is in.
            await using SqliteCommand read = queue._keeper.CreateCommand();
            read.CommandText = "SELECT COUNT(*) FROM calls";
            _ = await read.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (SqliteException ex)
        {
            throw queue.Failure(ex);
        }

        return queue;
    }

    public async Task EnqueueAsync(DeferredCall call, CancellationToken cancellationToken)
    {
        await WriteAsync(
            static (command, call) =>
            {
                command.CommandText = """
                    INSERT INTO calls (id, provider, endpoint, model, body, scope, created_at, deadline, state, delivery, owner)
                    VALUES ($id, $provider, $endpoint, $model, $body, $scope, $created, $deadline, 0, $delivery, $owner)
                    """;
                _ = command.Parameters.AddWithValue("$id", call.Id);
                _ = command.Parameters.AddWithValue("$provider", call.Provider);
                _ = command.Parameters.AddWithValue("$endpoint", call.Endpoint);
                _ = command.Parameters.AddWithValue("$model", (object?)call.ModelId ?? DBNull.Value);
                _ = command.Parameters.AddWithValue("$body", call.Body);
                _ = command.Parameters.AddWithValue("$scope", (object?)call.Scope ?? DBNull.Value);
                _ = command.Parameters.AddWithValue("$created", call.CreatedAt.ToUnixTimeMilliseconds());
                _ = command.Parameters.AddWithValue("$deadline", call.Deadline is { } d ? d.ToUnixTimeMilliseconds() : DBNull.Value);
                _ = command.Parameters.AddWithValue("$delivery", (int)call.Delivery);
                _ = command.Parameters.AddWithValue("$owner", (object?)call.Owner ?? DBNull.Value);
            },
            call,
            cancellationToken).ConfigureAwait(false);
    }

    // The queued calls of one provider endpoint, oldest first, up to a count and a total body size.
    public async Task<IReadOnlyList<DeferredCall>> PeekQueuedAsync(string provider, string endpoint, int maxCount, long maxBytes, CancellationToken cancellationToken)
    {
        List<DeferredCall> calls = [];
        long bytes = 0;
        await using SqliteConnection connection = await ConnectAsync(cancellationToken).ConfigureAwait(false);
        await using SqliteCommand command = connection.CreateCommand();
        command.CommandText = "SELECT * FROM calls WHERE state = 0 AND provider = $provider AND endpoint = $endpoint ORDER BY created_at, id LIMIT $limit";
        _ = command.Parameters.AddWithValue("$provider", provider);
        _ = command.Parameters.AddWithValue("$endpoint", endpoint);
        _ = command.Parameters.AddWithValue("$limit", maxCount);
        await using SqliteDataReader reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            DeferredCall call = Read(reader);
            if (calls.Count > 0 && bytes + call.Body.Length > maxBytes)
            {
                break;
            }

            bytes += call.Body.Length;
            calls.Add(call);
        }

        return calls;
    }

    // The endpoints that have queued calls, with the count and the oldest call's age: what the scheduler decides on.
    public async Task<IReadOnlyList<QueuedGroup>> QueuedGroupsAsync(CancellationToken cancellationToken)
    {
        List<QueuedGroup> groups = [];
        await using SqliteConnection connection = await ConnectAsync(cancellationToken).ConfigureAwait(false);
        await using SqliteCommand command = connection.CreateCommand();
        command.CommandText = "SELECT provider, endpoint, COUNT(*), MIN(created_at), MIN(deadline) FROM calls WHERE state = 0 GROUP BY provider, endpoint";
        await using SqliteDataReader reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            groups.Add(ReadGroup(reader));
        }

        return groups;
    }

    // Takes the calls into a batch being built, in one transaction: only calls still queued are taken, and the batch
    // is recorded before anything is sent, so that after a crash the scheduler knows which calls may have reached the
    // provider. Returns the ids actually taken.
    public async Task<IReadOnlyList<string>> BeginBatchAsync(string batchId, string provider, string endpoint, IReadOnlyList<string> callIds, DateTimeOffset now, CancellationToken cancellationToken)
    {
        List<string> taken = [];
        await _writer.WaitAsync(cancellationToken).ConfigureAwait(false);
        _holdsWriter.Value = true;
        try
        {
            await using SqliteConnection connection = await ConnectAsync(cancellationToken).ConfigureAwait(false);
            await using SqliteTransaction transaction = (SqliteTransaction)await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
            await using (SqliteCommand insert = connection.CreateCommand())
            {
                insert.Transaction = transaction;
                insert.CommandText = "INSERT INTO batches (id, provider, endpoint, created_at, next_poll_at) VALUES ($id, $provider, $endpoint, $now, $now)";
                _ = insert.Parameters.AddWithValue("$id", batchId);
                _ = insert.Parameters.AddWithValue("$provider", provider);
                _ = insert.Parameters.AddWithValue("$endpoint", endpoint);
                _ = insert.Parameters.AddWithValue("$now", now.ToUnixTimeMilliseconds());
                _ = await insert.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            }

            foreach (string id in callIds)
            {
                await using SqliteCommand update = connection.CreateCommand();
                update.Transaction = transaction;
                update.CommandText = "UPDATE calls SET state = 1, batch_id = $batch, attempts = attempts + 1 WHERE id = $id AND state = 0";
                _ = update.Parameters.AddWithValue("$batch", batchId);
                _ = update.Parameters.AddWithValue("$id", id);
                if (await update.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false) == 1)
                {
                    taken.Add(id);
                }
            }

            await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (SqliteException ex)
        {
            throw Failure(ex);
        }
        finally
        {
            _holdsWriter.Value = false;
            _ = _writer.Release();
        }

        return taken;
    }

    // The provider accepted the batch: its id is recorded and its calls are submitted.
    public Task MarkSubmittedAsync(string batchId, string providerBatchId, CancellationToken cancellationToken) =>
        WriteAsync(
            static (command, args) =>
            {
                command.CommandText = """
                    UPDATE batches SET provider_batch_id = $provider_id WHERE id = $id;
                    UPDATE calls SET state = 2 WHERE batch_id = $id AND state = 1;
                    """;
                _ = command.Parameters.AddWithValue("$id", args.batchId);
                _ = command.Parameters.AddWithValue("$provider_id", args.providerBatchId);
            },
            (batchId, providerBatchId),
            cancellationToken);

    // The provider never received the batch (its creation failed for certain): its calls go back to the queue.
    public Task AbandonBatchAsync(string batchId, CancellationToken cancellationToken) =>
        WriteAsync(
            static (command, id) =>
            {
                command.CommandText = """
                    UPDATE calls SET state = 0, batch_id = NULL WHERE batch_id = $id AND state = 1;
                    UPDATE batches SET done = 1 WHERE id = $id;
                    """;
                _ = command.Parameters.AddWithValue("$id", id);
            },
            batchId,
            cancellationToken);

    // Stores one call's outcome, once: a result for a call that already has one (a duplicate line, a second poller)
    // changes nothing and returns false.
    public async Task<bool> CompleteAsync(string callId, byte[]? result, string? error, CancellationToken cancellationToken)
    {
        int changed = 0;
        await WriteAsync(
            static (command, args) =>
            {
                command.CommandText = "UPDATE calls SET state = $state, result = $result, error = $error WHERE id = $id AND state IN (1, 2)";
                _ = command.Parameters.AddWithValue("$state", args.error is null ? (int)DeferredCallState.Completed : (int)DeferredCallState.Failed);
                _ = command.Parameters.AddWithValue("$result", (object?)args.result ?? DBNull.Value);
                _ = command.Parameters.AddWithValue("$error", (object?)args.error ?? DBNull.Value);
                _ = command.Parameters.AddWithValue("$id", args.callId);
            },
            (callId, result, error),
            cancellationToken,
            rows => changed = rows).ConfigureAwait(false);
        return changed == 1;
    }

    // A call whose batch ended without its result (expired, cancelled) goes back to the queue for another batch.
    public async Task<bool> RequeueAsync(string callId, CancellationToken cancellationToken)
    {
        int changed = 0;
        await WriteAsync(
            static (command, id) =>
            {
                command.CommandText = "UPDATE calls SET state = 0, batch_id = NULL WHERE id = $id AND state IN (1, 2)";
                _ = command.Parameters.AddWithValue("$id", id);
            },
            callId,
            cancellationToken,
            rows => changed = rows).ConfigureAwait(false);
        return changed == 1;
    }

    // The outcome reached its caller or handler, exactly once: only the first delivery changes the state.
    public async Task<bool> MarkDeliveredAsync(string callId, CancellationToken cancellationToken)
    {
        int changed = 0;
        await WriteAsync(
            static (command, id) =>
            {
                command.CommandText = "UPDATE calls SET state = 5 WHERE id = $id AND state IN (3, 4)";
                _ = command.Parameters.AddWithValue("$id", id);
            },
            callId,
            cancellationToken,
            rows => changed = rows).ConfigureAwait(false);
        return changed == 1;
    }

    public Task MarkBatchDoneAsync(string batchId, CancellationToken cancellationToken) =>
        WriteAsync(
            static (command, id) =>
            {
                command.CommandText = "UPDATE batches SET done = 1 WHERE id = $id";
                _ = command.Parameters.AddWithValue("$id", id);
            },
            batchId,
            cancellationToken);

    public Task SchedulePollAsync(string batchId, DateTimeOffset next, CancellationToken cancellationToken) =>
        WriteAsync(
            static (command, args) =>
            {
                command.CommandText = "UPDATE batches SET next_poll_at = $next, poll_count = poll_count + 1 WHERE id = $id";
                _ = command.Parameters.AddWithValue("$id", args.batchId);
                _ = command.Parameters.AddWithValue("$next", args.next.ToUnixTimeMilliseconds());
            },
            (batchId, next),
            cancellationToken);

    // Batches not yet done: submitted ones to poll, and ones a crash left between "taken" and "submitted".
    public async Task<IReadOnlyList<OpenBatch>> OpenBatchesAsync(CancellationToken cancellationToken)
    {
        List<OpenBatch> batches = [];
        await using SqliteConnection connection = await ConnectAsync(cancellationToken).ConfigureAwait(false);
        await using SqliteCommand command = connection.CreateCommand();
        command.CommandText = "SELECT id, provider, endpoint, provider_batch_id, created_at, next_poll_at, poll_count FROM batches WHERE done = 0 ORDER BY next_poll_at";
        await using SqliteDataReader reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            batches.Add(ReadBatch(reader));
        }

        return batches;
    }

    public async Task<DeferredCall?> GetAsync(string callId, CancellationToken cancellationToken)
    {
        await using SqliteConnection connection = await ConnectAsync(cancellationToken).ConfigureAwait(false);
        await using SqliteCommand command = connection.CreateCommand();
        command.CommandText = "SELECT * FROM calls WHERE id = $id";
        _ = command.Parameters.AddWithValue("$id", callId);
        await using SqliteDataReader reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        return await reader.ReadAsync(cancellationToken).ConfigureAwait(false) ? Read(reader) : null;
    }

    public async Task<IReadOnlyList<DeferredCall>> CallsInStateAsync(DeferredCallState state, string? batchId, CancellationToken cancellationToken)
    {
        List<DeferredCall> calls = [];
        await using SqliteConnection connection = await ConnectAsync(cancellationToken).ConfigureAwait(false);
        await using SqliteCommand command = connection.CreateCommand();
        command.CommandText = batchId is null
            ? "SELECT * FROM calls WHERE state = $state ORDER BY created_at, id"
            : "SELECT * FROM calls WHERE state = $state AND batch_id = $batch ORDER BY created_at, id";
        _ = command.Parameters.AddWithValue("$state", (int)state);
        if (batchId is not null)
        {
            _ = command.Parameters.AddWithValue("$batch", batchId);
        }

        await using SqliteDataReader reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            calls.Add(Read(reader));
        }

        return calls;
    }

    public ValueTask DisposeAsync()
    {
        Dispose();
        return ValueTask.CompletedTask;
    }

    // Pooled connections hold the file open; they are released so that the file can be moved or deleted.
    public void Dispose()
    {
        _keeper?.Dispose();
        _writer.Dispose();
        SqliteConnection.ClearAllPools();
    }

    private async Task<SqliteConnection> ConnectAsync(CancellationToken cancellationToken)
    {
        await EnsureFileAsync(cancellationToken).ConfigureAwait(false);
        SqliteConnection connection = new(_connectionString);
        try
        {
            await connection.OpenAsync(cancellationToken).ConfigureAwait(false);
            await using SqliteCommand pragma = connection.CreateCommand();
            // Every commit reaches the disk before it returns: an accepted call is never lost to a crash.
            pragma.CommandText = "PRAGMA synchronous = FULL; PRAGMA busy_timeout = 5000;";
            _ = await pragma.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            return connection;
        }
        catch (SqliteException ex)
        {
            await connection.DisposeAsync().ConfigureAwait(false);
            throw Failure(ex);
        }
    }

    // The queue file was deleted while the app runs (a clean-up job, a mistaken rm): pooled connections would go on
    // writing to the deleted file, and new ones would create an empty one, so accepted calls would be lost without a
    // word. Instead the queue is copied back to its path from the connection that still holds the deleted file, with
    // writers held off, and the loss that was avoided is logged as an error.
    private async Task EnsureFileAsync(CancellationToken cancellationToken)
    {
        if (_keeper is null || File.Exists(_path))
        {
            return;
        }

        bool acquired = !_holdsWriter.Value;
        if (acquired)
        {
            await _writer.WaitAsync(cancellationToken).ConfigureAwait(false);
        }

        try
        {
            if (File.Exists(_path))
            {
                return;
            }

            SqliteConnection.ClearAllPools();
            await using SqliteConnection restored = new(_connectionString.Replace("Pooling=True", "Pooling=False", StringComparison.OrdinalIgnoreCase));
            await restored.OpenAsync(cancellationToken).ConfigureAwait(false);
            _keeper.BackupDatabase(restored);
            Restores++;
            if (_logger is not null)
            {
                Log.QueueFileRestored(_logger, _path);
            }
        }
        catch (SqliteException ex)
        {
            throw Failure(ex);
        }
        finally
        {
            if (acquired)
            {
                _ = _writer.Release();
            }
        }
    }

    // A SQLite failure (a corrupt or unreadable file, a full disk) names the queue file it concerns.
    private InvalidOperationException Failure(SqliteException ex) =>
        new($"The deferral queue '{_path}' failed: {ex.Message} (SQLite error {ex.SqliteErrorCode}).", ex);

    private async Task WriteAsync<TState>(Action<SqliteCommand, TState> prepare, TState state, CancellationToken cancellationToken, Action<int>? rows = null)
    {
        await _writer.WaitAsync(cancellationToken).ConfigureAwait(false);
        _holdsWriter.Value = true;
        try
        {
            // One transaction for the whole command text: several statements (a batch's id and its calls' state) are
            // written together or not at all, so a process killed between them leaves no batch recorded as submitted
            // whose calls still say "submitting" (found by the crash-recovery test under load).
            await using SqliteConnection connection = await ConnectAsync(cancellationToken).ConfigureAwait(false);
            await using SqliteTransaction transaction = (SqliteTransaction)await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
            await using SqliteCommand command = connection.CreateCommand();
            command.Transaction = transaction;
            prepare(command, state);
            int changed = await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
            rows?.Invoke(changed);
        }
        catch (SqliteException ex)
        {
            throw Failure(ex);
        }
        finally
        {
            _holdsWriter.Value = false;
            _ = _writer.Release();
        }
    }

    private static QueuedGroup ReadGroup(SqliteDataReader reader) => new(
        reader.GetString(0),
        reader.GetString(1),
        reader.GetInt32(2),
        DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(3)),
        reader.IsDBNull(4) ? null : DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(4)));

    private static OpenBatch ReadBatch(SqliteDataReader reader) => new(
        reader.GetString(0),
        reader.GetString(1),
        reader.GetString(2),
        reader.IsDBNull(3) ? null : reader.GetString(3),
        DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(4)),
        DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(5)),
        reader.GetInt32(6));

    private static DeferredCall Read(SqliteDataReader reader) => new()
    {
        Id = reader.GetString(reader.GetOrdinal("id")),
        Provider = reader.GetString(reader.GetOrdinal("provider")),
        Endpoint = reader.GetString(reader.GetOrdinal("endpoint")),
        ModelId = reader.IsDBNull(reader.GetOrdinal("model")) ? null : reader.GetString(reader.GetOrdinal("model")),
        Body = (byte[])reader["body"],
        Scope = reader.IsDBNull(reader.GetOrdinal("scope")) ? null : reader.GetString(reader.GetOrdinal("scope")),
        CreatedAt = DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(reader.GetOrdinal("created_at"))),
        Deadline = reader.IsDBNull(reader.GetOrdinal("deadline")) ? null : DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(reader.GetOrdinal("deadline"))),
        State = (DeferredCallState)reader.GetInt32(reader.GetOrdinal("state")),
        BatchId = reader.IsDBNull(reader.GetOrdinal("batch_id")) ? null : reader.GetString(reader.GetOrdinal("batch_id")),
        Result = reader.IsDBNull(reader.GetOrdinal("result")) ? null : (byte[])reader["result"],
        Error = reader.IsDBNull(reader.GetOrdinal("error")) ? null : reader.GetString(reader.GetOrdinal("error")),
        Attempts = reader.GetInt32(reader.GetOrdinal("attempts")),
        Delivery = (DeferralDelivery)reader.GetInt32(reader.GetOrdinal("delivery")),
        Owner = reader.IsDBNull(reader.GetOrdinal("owner")) ? null : reader.GetString(reader.GetOrdinal("owner")),
    };
}

using System.Diagnostics.Metrics;
using System.Globalization;
using System.Runtime.CompilerServices;
using System.Threading.Channels;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace CostAware;

/// <summary>
/// A cost ledger in one SQLite file (WAL). <see cref="RecordAsync"/> never writes on the caller's path: receipts go to a
/// bounded buffer that a background writer empties in batches, one transaction per batch, idempotently (an entry is
/// keyed by its receipt id and position, so a receipt recorded twice is stored once). Queries and aggregates first wait
/// for what was recorded before them to be written.
/// </summary>
/// <remarks>
/// <para>
/// What is durable: a receipt is on disk once the batch that holds it is committed (the writer takes what is in the
/// buffer as soon as it is free, up to <see cref="SqliteCostLedgerOptions.BatchSize"/> receipts a transaction), and at the
/// latest when <see cref="FlushAsync"/> or <see cref="DisposeAsync"/> returns. A process killed before that loses the receipts still in the buffer. When the file
/// cannot be written (locked, disk full), the batch is retried with a growing pause and nothing is dropped; when the
/// buffer is full, <see cref="RecordAsync"/> waits for room up to <see cref="SqliteCostLedgerOptions.FullWait"/>, then drops
/// the receipt, logs it and counts it in <see cref="Dropped"/> and the metric <c>costaware.ledger.dropped</c> (the gauge
/// <c>costaware.ledger.buffered</c> shows the buffer).
/// </para>
/// <para>
/// Entries read back carry no <see cref="CostReceiptEntry.Price"/> (prices are not stored; the costs are). Money is stored
/// exactly (decimal text) and summed in units of 10⁻¹⁰ dollars. Thread-safe.
/// </para>
/// </remarks>
public sealed partial class SqliteCostLedger : ICostLedger, IAsyncDisposable, IDisposable
{
    private const decimal Unit = 10_000_000_000m;
    private static readonly string[] Dimensions = ["tenant", "user_id", "api_key", "agent", "workflow", "feature"];

    private readonly string _connectionString;
    private readonly SqliteCostLedgerOptions _options;
    private readonly ILogger _logger;
    private readonly Channel<Pending> _buffer;
    private readonly Task _writer;
    private readonly Meter _meter;
    private readonly Counter<long> _droppedCounter;
    private long _dropped;
    private long _recorded;
    private long _written;
    private int _disposed;

    /// <summary>Initializes a new instance of the <see cref="SqliteCostLedger"/> class, creating the file and its table if needed.</summary>
    /// <param name="options">Where the file is and how the writer behaves.</param>
    /// <param name="loggerFactory">Where the ledger logs, or <see langword="null"/>.</param>
    /// <exception cref="ArgumentNullException"><paramref name="options"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException">The options are not valid (no path, a capacity or interval out of range).</exception>
    /// <exception cref="SqliteException">The file cannot be opened or created.</exception>
    public SqliteCostLedger(SqliteCostLedgerOptions options, ILoggerFactory? loggerFactory = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentException.ThrowIfNullOrWhiteSpace(options.Path, nameof(options));
        if (options.Capacity < 1 || options.BatchSize < 1 || options.FullWait < TimeSpan.Zero)
        {
            throw new ArgumentException("SqliteCostLedgerOptions: Capacity and BatchSize must be positive and FullWait zero or more.", nameof(options));
        }

        _options = options;
        _logger = (loggerFactory ?? NullLoggerFactory.Instance).CreateLogger<SqliteCostLedger>();
        _connectionString = new SqliteConnectionStringBuilder { DataSource = options.Path, Pooling = true }.ToString();
        using (SqliteConnection connection = Open())
        {
            using SqliteCommand create = connection.CreateCommand();
            create.CommandText = """
                PRAGMA journal_mode = WAL;
                CREATE TABLE IF NOT EXISTS ledger_entries (
                    receipt_id TEXT NOT NULL, entry_index INTEGER NOT NULL, ts_ms INTEGER NOT NULL, kind INTEGER NOT NULL,
                    model TEXT, provider TEXT, stage TEXT,
                    tenant TEXT, user_id TEXT, api_key TEXT, agent TEXT, workflow TEXT, feature TEXT,
                    input INTEGER NOT NULL, cached_input INTEGER NOT NULL, cache_write INTEGER NOT NULL, cache_write_1h INTEGER NOT NULL,
                    output INTEGER NOT NULL, reasoning INTEGER NOT NULL,
                    cost TEXT, cost_e10 INTEGER NOT NULL, avoided TEXT, avoided_e10 INTEGER NOT NULL,
                    cost_input TEXT, cost_cached TEXT, cost_write TEXT, cost_output TEXT, cost_reasoning TEXT,
                    estimated INTEGER NOT NULL, batch INTEGER NOT NULL, cost_source INTEGER NOT NULL, cache_saved_e10 INTEGER NOT NULL,
                    PRIMARY KEY (receipt_id, entry_index));
                CREATE INDEX IF NOT EXISTS ledger_entries_ts ON ledger_entries (ts_ms);
                CREATE INDEX IF NOT EXISTS ledger_entries_tenant_ts ON ledger_entries (tenant, ts_ms);
                PRAGMA user_version = 1;
                """;
            _ = create.ExecuteNonQuery();
        }

        _meter = options.MeterFactory?.Create("CostAware") ?? new Meter("CostAware");
        _droppedCounter = _meter.CreateCounter<long>("costaware.ledger.dropped", "{receipt}", "Receipts the ledger dropped because its buffer stayed full.");
        _ = _meter.CreateObservableGauge("costaware.ledger.buffered", () => Buffered, "{receipt}", "Receipts waiting in the ledger's buffer to be written.");
        _buffer = Channel.CreateBounded<Pending>(new BoundedChannelOptions(options.Capacity) { SingleReader = true, FullMode = BoundedChannelFullMode.Wait });
        _writer = Task.Run(WriteLoopAsync);
    }

    /// <summary>Gets how many receipts were dropped because the buffer stayed full.</summary>
    public long Dropped => Interlocked.Read(ref _dropped);

    /// <summary>Gets how many receipts wait in the buffer to be written.</summary>
    public long Buffered => Interlocked.Read(ref _recorded) - Interlocked.Read(ref _written) - Interlocked.Read(ref _dropped);

    /// <inheritdoc />
    /// <remarks>Returns once the receipt is in the buffer (a snapshot of its entries now), not once it is on disk.</remarks>
    public async ValueTask RecordAsync(CostReceipt receipt, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(receipt);
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        Pending pending = new(receipt.Id, receipt.Scope, [.. receipt.Entries], Flushed: null);
        _ = Interlocked.Increment(ref _recorded);
        if (_buffer.Writer.TryWrite(pending))
        {
            return;
        }

        using CancellationTokenSource wait = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        wait.CancelAfter(_options.FullWait);
        try
        {
            await _buffer.Writer.WriteAsync(pending, wait.Token);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            _ = Interlocked.Increment(ref _dropped);
            _droppedCounter.Add(1);
            BufferFull(_logger, receipt.Id, _options.Capacity);
        }
        catch (OperationCanceledException)
        {
            _ = Interlocked.Decrement(ref _recorded);
            throw;
        }
    }

    /// <summary>Waits until every receipt recorded before this call is on disk.</summary>
    /// <param name="cancellationToken">Cancels the wait (not the writing).</param>
    /// <returns>A task that completes when they are.</returns>
    public async Task FlushAsync(CancellationToken cancellationToken = default)
    {
        TaskCompletionSource flushed = new(TaskCreationOptions.RunContinuationsAsynchronously);
        try
        {
            await _buffer.Writer.WriteAsync(new Pending(Guid.Empty, new CostScope(), [], flushed), cancellationToken);
        }
        catch (ChannelClosedException)
        {
            // Disposed: the writer writes what is left and stops.
#pragma warning disable VSTHRD003 // The ledger's own writer.
            await _writer.WaitAsync(cancellationToken);
#pragma warning restore VSTHRD003
            return;
        }

        await flushed.Task.WaitAsync(cancellationToken);
    }

    /// <inheritdoc />
    public async IAsyncEnumerable<CostLedgerRecord> QueryAsync(CostLedgerQuery query, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(query);
        await FlushAsync(cancellationToken);
        await using SqliteConnection connection = Open();
        await using SqliteCommand command = connection.CreateCommand();
        command.CommandText = "SELECT * FROM ledger_entries WHERE " + Where(command, query) + " ORDER BY ts_ms, receipt_id, entry_index";
        await using SqliteDataReader reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            yield return Read(reader);
        }
    }

    /// <summary>
    /// Sums spend, money avoided, calls and tokens in the database, grouped by a scope dimension (or none), by model, and
    /// by a time bucket in a time zone. Tokens are of real provider calls only: a cache hit's tokens are what it avoided,
    /// never added to what was spent.
    /// </summary>
    /// <param name="query">What to sum and how to group it.</param>
    /// <param name="cancellationToken">Cancels the query.</param>
    /// <returns>One row per group, in bucket, then key, then model order.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="query"/> is <see langword="null"/>.</exception>
    public async Task<IReadOnlyList<CostLedgerAggregate>> AggregateAsync(CostLedgerAggregateQuery query, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(query);
        await FlushAsync(cancellationToken);
        await using SqliteConnection connection = Open();
        await using SqliteCommand command = connection.CreateCommand();
        string key = query.GroupBy is { } dimension ? Dimensions[(int)dimension] : "NULL";
        string model = query.ByModel ? "model" : "NULL";

        // Summed per quarter hour in SQL (every time zone's offset is a multiple of 15 minutes), then into the zone's
        // buckets here.
        command.CommandText = $"""
            SELECT {key} AS k, {model} AS m, ts_ms / 900000 AS q,
                   SUM(CASE WHEN kind = {(int)CostEntryKind.ProviderCall} OR kind = {(int)CostEntryKind.Embedding} THEN cost_e10 ELSE 0 END),
                   SUM(avoided_e10),
                   SUM(CASE WHEN kind = {(int)CostEntryKind.ProviderCall} THEN 1 ELSE 0 END),
                   SUM(CASE WHEN kind = {(int)CostEntryKind.CacheHit} THEN 1 ELSE 0 END),
                   SUM(CASE WHEN kind <> {(int)CostEntryKind.CacheHit} THEN input ELSE 0 END),
                   SUM(CASE WHEN kind <> {(int)CostEntryKind.CacheHit} THEN output ELSE 0 END),
                   SUM(CASE WHEN kind = {(int)CostEntryKind.CacheHit} THEN input + output ELSE 0 END),
                   SUM(cache_saved_e10)
            FROM ledger_entries WHERE {Where(command, query.Filter ?? CostLedgerQuery.All)}
            GROUP BY k, m, q
            """;
        Dictionary<(string? Key, string? Model, DateTimeOffset Bucket), CostLedgerAggregate> groups = [];
        TimeZoneInfo zone = query.TimeZone ?? TimeZoneInfo.Utc;
        await using SqliteDataReader reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            string? k = await reader.IsDBNullAsync(0, cancellationToken) ? null : reader.GetString(0);
            string? m = await reader.IsDBNullAsync(1, cancellationToken) ? null : reader.GetString(1);
            DateTimeOffset bucket = Bucket(DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(2) * 900_000), query.Bucket, zone);
            CostLedgerAggregate row = new()
            {
                Key = k,
                ModelId = m,
                BucketStart = bucket,
                Spent = reader.GetInt64(3) / Unit,
                Avoided = reader.GetInt64(4) / Unit,
                Calls = reader.GetInt64(5),
                CacheHits = reader.GetInt64(6),
                InputTokens = reader.GetInt64(7),
                OutputTokens = reader.GetInt64(8),
                AvoidedTokens = reader.GetInt64(9),
                ProviderCacheSaved = reader.GetInt64(10) / Unit,
            };
            groups[(k, m, bucket)] = groups.TryGetValue((k, m, bucket), out CostLedgerAggregate? sum) ? sum.Add(row) : row;
        }

        IEnumerable<CostLedgerAggregate> ordered = groups.Values.OrderBy(static r => r.BucketStart).ThenBy(static r => r.Key, StringComparer.Ordinal).ThenBy(static r => r.ModelId, StringComparer.Ordinal);
        return [.. query.Top is { } top ? ordered.OrderByDescending(static r => r.Spent).Take(top) : ordered];
    }

    /// <summary>Deletes the entries older than a moment (retention).</summary>
    /// <param name="olderThan">Entries with a timestamp before it are deleted.</param>
    /// <param name="cancellationToken">Cancels the deletion.</param>
    /// <returns>How many entries were deleted.</returns>
    public async Task<int> PruneAsync(DateTimeOffset olderThan, CancellationToken cancellationToken = default)
    {
        await FlushAsync(cancellationToken);
        await using SqliteConnection connection = Open();
        await using SqliteCommand command = connection.CreateCommand();
        command.CommandText = "DELETE FROM ledger_entries WHERE ts_ms < $before";
        _ = command.Parameters.AddWithValue("$before", olderThan.ToUnixTimeMilliseconds());
        return await command.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <summary>Writes what is in the buffer and stops the writer.</summary>
    /// <returns>A task that completes when the buffer is on disk.</returns>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        _ = _buffer.Writer.TryComplete();
#pragma warning disable VSTHRD003 // The ledger's own writer, started by its constructor.
        await _writer;
#pragma warning restore VSTHRD003
        _meter.Dispose();
    }

    /// <summary>Writes what is in the buffer and stops the writer, blocking until it is done.</summary>
    public void Dispose()
    {
#pragma warning disable VSTHRD002 // Disposal without async: wait for the writer once.
        DisposeAsync().AsTask().GetAwaiter().GetResult();
#pragma warning restore VSTHRD002
    }

    private SqliteConnection Open()
    {
        SqliteConnection connection = new(_connectionString);
        connection.Open();
        using SqliteCommand pragma = connection.CreateCommand();
        pragma.CommandText = "PRAGMA busy_timeout = 5000;";
        _ = pragma.ExecuteNonQuery();
        return connection;
    }

    private async Task WriteLoopAsync()
    {
        List<Pending> batch = new(_options.BatchSize);
        ChannelReader<Pending> reader = _buffer.Reader;
        while (await reader.WaitToReadAsync())
        {
            while (batch.Count < _options.BatchSize && reader.TryRead(out Pending? next))
            {
                batch.Add(next);
            }

            TimeSpan pause = TimeSpan.FromMilliseconds(100);
            while (true)
            {
                try
                {
                    Write(batch);
                    break;
                }
                catch (SqliteException ex)
                {
                    // Locked, disk full, read-only: the batch is kept and tried again; the buffer fills meanwhile.
                    WriteFailed(_logger, batch.Count, ex);
                    await Task.Delay(pause, _options.TimeProvider ?? TimeProvider.System);
                    pause = TimeSpan.FromTicks(Math.Min(pause.Ticks * 2, TimeSpan.FromSeconds(30).Ticks));
                }
            }

            foreach (Pending done in batch)
            {
                done.Flushed?.TrySetResult();
            }

            batch.Clear();
        }
    }

    private void Write(List<Pending> batch)
    {
        using SqliteConnection connection = Open();
        using SqliteTransaction transaction = connection.BeginTransaction();
        using SqliteCommand insert = connection.CreateCommand();
        insert.Transaction = transaction;
        insert.CommandText = """
            INSERT OR IGNORE INTO ledger_entries VALUES (
                $receipt, $index, $ts, $kind, $model, $provider, $stage, $tenant, $user, $apiKey, $agent, $workflow, $feature,
                $input, $cached, $write, $write1h, $output, $reasoning, $cost, $costE10, $avoided, $avoidedE10,
                $costInput, $costCached, $costWrite, $costOutput, $costReasoning, $estimated, $batch, $source, $cacheSaved)
            """;
        string[] names = ["$receipt", "$index", "$ts", "$kind", "$model", "$provider", "$stage", "$tenant", "$user", "$apiKey", "$agent", "$workflow", "$feature",
            "$input", "$cached", "$write", "$write1h", "$output", "$reasoning", "$cost", "$costE10", "$avoided", "$avoidedE10",
            "$costInput", "$costCached", "$costWrite", "$costOutput", "$costReasoning", "$estimated", "$batch", "$source", "$cacheSaved"];
        SqliteParameter[] p = [.. names.Select(n => insert.Parameters.Add(n, SqliteType.Text))];
        long receipts = 0;
        foreach (Pending pending in batch)
        {
            if (pending.Flushed is not null)
            {
                continue;
            }

            receipts++;
            for (int i = 0; i < pending.Entries.Length; i++)
            {
                CostReceiptEntry e = pending.Entries[i];
                CostScope s = pending.Scope;
                object?[] values =
                [
                    pending.ReceiptId.ToString("D"), i, e.Timestamp.ToUnixTimeMilliseconds(), (int)e.Kind, e.ModelId, e.Provider, e.Stage,
                    s.Tenant, s.User, s.ApiKey, s.Agent, s.Workflow, s.Feature,
                    e.Tokens.Input, e.Tokens.CachedInput, e.Tokens.CacheWrite, e.Tokens.CacheWrite1h, e.Tokens.Output, e.Tokens.Reasoning,
                    Text(e.Cost?.Total), E10(e.Cost?.Total), Text(e.CostAvoided), E10(e.CostAvoided),
                    Text(e.Cost?.Input), Text(e.Cost?.CachedInput), Text(e.Cost?.CacheWrite), Text(e.Cost?.Output), Text(e.Cost?.Reasoning),
                    e.IsEstimated ? 1 : 0, e.IsBatch ? 1 : 0, (int)e.CostSource, E10(e.ProviderCacheSaved),
                ];
                for (int v = 0; v < values.Length; v++)
                {
                    p[v].Value = values[v] ?? DBNull.Value;
                }

                _ = insert.ExecuteNonQuery();
            }
        }

        transaction.Commit();
        _ = Interlocked.Add(ref _written, receipts);
    }

    private static string? Text(decimal? value) => value?.ToString(CultureInfo.InvariantCulture);

    private static long E10(decimal? value) => value is { } v ? (long)decimal.Round(v * Unit, MidpointRounding.AwayFromZero) : 0;

    private static string Where(SqliteCommand command, CostLedgerQuery query)
    {
        List<string> clauses = ["1 = 1"];
        void Add(string column, string name, object? value)
        {
            if (value is not null)
            {
                clauses.Add($"{column} = {name}");
                _ = command.Parameters.AddWithValue(name, value);
            }
        }

        CostScope? scope = query.Scope;
        Add("tenant", "$fTenant", scope?.Tenant);
        Add("user_id", "$fUser", scope?.User);
        Add("api_key", "$fApiKey", scope?.ApiKey);
        Add("agent", "$fAgent", scope?.Agent);
        Add("workflow", "$fWorkflow", scope?.Workflow);
        Add("feature", "$fFeature", scope?.Feature);
        if (query.ModelId is { } model)
        {
            clauses.Add("model = $fModel COLLATE NOCASE");
            _ = command.Parameters.AddWithValue("$fModel", model);
        }

        if (query.Provider is { } provider)
        {
            clauses.Add("provider = $fProvider COLLATE NOCASE");
            _ = command.Parameters.AddWithValue("$fProvider", provider);
        }

        Add("kind", "$fKind", query.Kind is { } kind ? (int)kind : null);
        if (query.From is { } from)
        {
            clauses.Add("ts_ms >= $fFrom");
            _ = command.Parameters.AddWithValue("$fFrom", from.ToUnixTimeMilliseconds());
        }

        if (query.To is { } to)
        {
            clauses.Add("ts_ms < $fTo");
            _ = command.Parameters.AddWithValue("$fTo", to.ToUnixTimeMilliseconds());
        }

        return string.Join(" AND ", clauses);
    }

    private static CostLedgerRecord Read(SqliteDataReader r)
    {
        string? S(string column) => r.IsDBNull(r.GetOrdinal(column)) ? null : r.GetString(r.GetOrdinal(column));
        long L(string column) => r.GetInt64(r.GetOrdinal(column));
        decimal D(string column) => S(column) is { } text ? decimal.Parse(text, CultureInfo.InvariantCulture) : 0m;
        CostBreakdown? cost = S("cost") is null ? null : new CostBreakdown
        {
            Input = D("cost_input"), CachedInput = D("cost_cached"), CacheWrite = D("cost_write"), Output = D("cost_output"), Reasoning = D("cost_reasoning"),
        };
        CostScope scope = new() { Tenant = S("tenant"), User = S("user_id"), ApiKey = S("api_key"), Agent = S("agent"), Workflow = S("workflow"), Feature = S("feature") };
        CostReceiptEntry entry = new()
        {
            Kind = (CostEntryKind)L("kind"),
            ModelId = S("model"),
            Provider = S("provider"),
            Stage = S("stage"),
            Timestamp = DateTimeOffset.FromUnixTimeMilliseconds(L("ts_ms")),
            Tokens = new TokenCounts { Input = L("input"), CachedInput = L("cached_input"), CacheWrite = L("cache_write"), CacheWrite1h = L("cache_write_1h"), Output = L("output"), Reasoning = L("reasoning") },
            Cost = cost,
            CostAvoided = S("avoided") is null ? null : D("avoided"),
            IsEstimated = L("estimated") != 0,
            IsBatch = L("batch") != 0,
            CostSource = (CostSource)L("cost_source"),
        };
        return new CostLedgerRecord(Guid.Parse(S("receipt_id")!), scope, entry);
    }

    private static DateTimeOffset Bucket(DateTimeOffset utc, CostLedgerBucket bucket, TimeZoneInfo zone)
    {
        DateTimeOffset local = TimeZoneInfo.ConvertTime(utc, zone);
        DateTime start = bucket switch
        {
            CostLedgerBucket.Hour => new DateTime(local.Year, local.Month, local.Day, local.Hour, 0, 0, DateTimeKind.Unspecified),
            CostLedgerBucket.Day => new DateTime(local.Year, local.Month, local.Day, 0, 0, 0, DateTimeKind.Unspecified),
            CostLedgerBucket.Month => new DateTime(local.Year, local.Month, 1, 0, 0, 0, DateTimeKind.Unspecified),
            _ => DateTime.SpecifyKind(DateTime.MinValue, DateTimeKind.Unspecified),
        };
        return bucket == CostLedgerBucket.None ? DateTimeOffset.MinValue : new DateTimeOffset(start, zone.GetUtcOffset(start));
    }

    private sealed record class Pending(Guid ReceiptId, CostScope Scope, CostReceiptEntry[] Entries, TaskCompletionSource? Flushed);

    [LoggerMessage(110, LogLevel.Error, "The ledger's buffer stayed full ({Capacity} receipts): receipt {ReceiptId} was dropped. The database is slower than the traffic, or cannot be written.")]
    private static partial void BufferFull(ILogger logger, Guid receiptId, int capacity);

    [LoggerMessage(111, LogLevel.Warning, "Writing {Count} receipts to the ledger failed; they are kept and tried again.")]
    private static partial void WriteFailed(ILogger logger, int count, Exception exception);
}

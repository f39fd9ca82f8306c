using System.Globalization;
using System.Runtime.CompilerServices;
using CostAware.Ledger.Internal;
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
/// buffer as soon as it is free, up to <see cref="BufferedCostLedgerOptions.BatchSize"/> receipts a transaction), and at the
/// latest when <see cref="FlushAsync"/> or <see cref="DisposeAsync"/> returns. A process killed before that loses the receipts still in the buffer. When the file
/// cannot be written (locked, disk full), the batch is retried with a growing pause and nothing is dropped; when the
/// buffer is full, <see cref="RecordAsync"/> waits for room up to <see cref="BufferedCostLedgerOptions.FullWait"/>, then drops
/// the receipt, logs it and counts it in <see cref="Dropped"/> and the metric <c>costaware.ledger.dropped</c> (the gauge
/// <c>costaware.ledger.buffered</c> shows the buffer).
/// </para>
/// <para>
/// The file's schema is versioned (<c>PRAGMA user_version</c>): a file an older version created is migrated when it is
/// opened, in one transaction; a file a newer version created is refused with a clear error, never written.
/// </para>
/// <para>
/// Entries read back carry no <see cref="CostReceiptEntry.Price"/> (prices are not stored; the costs are). Money is stored
/// exactly (decimal text) and summed in units of 10⁻¹⁰ dollars. Thread-safe.
/// </para>
/// </remarks>
public sealed class SqliteCostLedger : IBufferedCostLedger, ICostLedgerAggregates, IAsyncDisposable, IDisposable
{
    private const decimal Unit = 10_000_000_000m;
    private const long QuarterHourMs = 900_000;
    private static readonly string[] Dimensions = ["tenant", "user_id", "api_key", "agent", "workflow", "feature"];

    // Each step takes the schema from the version before it to its own (index + 1); a new version appends a step.
    private static readonly string[] Migrations =
    [
        """
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
        """,

        // Version 2: the per-agent and per-feature reports (cost per task, zombie agents) read by those dimensions.
        """
        CREATE INDEX IF NOT EXISTS ledger_entries_agent_ts ON ledger_entries (agent, ts_ms);
        CREATE INDEX IF NOT EXISTS ledger_entries_feature_ts ON ledger_entries (feature, ts_ms);
        """,
    ];

    private readonly string _connectionString;
    private readonly LedgerWriteBuffer _buffer;

    /// <summary>Initializes a new instance of the <see cref="SqliteCostLedger"/> class, creating the file and its table if needed.</summary>
    /// <param name="options">Where the file is and how the writer behaves.</param>
    /// <param name="loggerFactory">Where the ledger logs, or <see langword="null"/>.</param>
    /// <exception cref="ArgumentNullException"><paramref name="options"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException">The options are not valid (no path, a capacity or interval out of range).</exception>
    /// <exception cref="SqliteException">The file cannot be opened or created.</exception>
    /// <exception cref="InvalidOperationException">The file was written by a newer version of CostAware (its schema is newer than this library knows).</exception>
    public SqliteCostLedger(SqliteCostLedgerOptions options, ILoggerFactory? loggerFactory = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentException.ThrowIfNullOrWhiteSpace(options.Path, nameof(options));
        LedgerWriteBuffer.Validate(options, nameof(SqliteCostLedgerOptions));
        _connectionString = new SqliteConnectionStringBuilder { DataSource = options.Path, Pooling = true }.ToString();
        using (SqliteConnection connection = Open())
        {
            Migrate(connection, options.Path);
        }

        ILogger logger = (loggerFactory ?? NullLoggerFactory.Instance).CreateLogger<SqliteCostLedger>();
        _buffer = new LedgerWriteBuffer(WriteAsync, options, logger);
    }

    /// <summary>Gets the schema version this library writes.</summary>
    public static int SchemaVersion => Migrations.Length;

    /// <inheritdoc />
    public int Capacity => _buffer.Capacity;

    /// <summary>Gets how many receipts were dropped because the buffer stayed full.</summary>
    public long Dropped => _buffer.Dropped;

    /// <summary>Gets how many receipts wait in the buffer to be written.</summary>
    public long Buffered => _buffer.Buffered;

    /// <inheritdoc />
    public DateTimeOffset? FailingSince => _buffer.FailingSince;

    /// <inheritdoc />
    /// <remarks>Returns once the receipt is in the buffer (a snapshot of its entries now), not once it is on disk.</remarks>
    public ValueTask RecordAsync(CostReceipt receipt, CancellationToken cancellationToken = default) => _buffer.RecordAsync(receipt, cancellationToken);

    /// <summary>Waits until every receipt recorded before this call is on disk.</summary>
    /// <param name="cancellationToken">Cancels the wait (not the writing).</param>
    /// <returns>A task that completes when they are.</returns>
    public Task FlushAsync(CancellationToken cancellationToken = default) => _buffer.FlushAsync(cancellationToken);

    /// <inheritdoc />
    public async IAsyncEnumerable<CostLedgerRecord> QueryAsync(CostLedgerQuery query, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(query);
        await _buffer.FlushBeforeReadAsync(cancellationToken);
        await using SqliteConnection connection = Open();
        await using SqliteCommand command = connection.CreateCommand();
        command.CommandText = "SELECT * FROM ledger_entries WHERE " + Where(command, query) + " ORDER BY ts_ms, receipt_id, entry_index";
        await using SqliteDataReader reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            yield return Read(reader);
        }
    }

    /// <inheritdoc />
    public async Task<IReadOnlyList<CostLedgerAggregate>> AggregateAsync(CostLedgerAggregateQuery query, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(query);
        await _buffer.FlushBeforeReadAsync(cancellationToken);
        await using SqliteConnection connection = Open();
        await using SqliteCommand command = connection.CreateCommand();
        string key = query.GroupBy is { } dimension ? Dimensions[(int)dimension] : "NULL";
        string model = query.ByModel ? "model" : "NULL";

        // Summed per quarter hour in SQL (every time zone's offset is a multiple of 15 minutes), then into the zone's
        // buckets here.
        command.CommandText = $"""
            SELECT {key} AS k, {model} AS m, ts_ms / {QuarterHourMs} AS q,
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
        List<CostLedgerAggregate> partial = [];
        await using SqliteDataReader reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            partial.Add(new CostLedgerAggregate
            {
                Key = await reader.IsDBNullAsync(0, cancellationToken) ? null : reader.GetString(0),
                ModelId = await reader.IsDBNullAsync(1, cancellationToken) ? null : reader.GetString(1),
                BucketStart = DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(2) * QuarterHourMs),
                Spent = reader.GetInt64(3) / Unit,
                Avoided = reader.GetInt64(4) / Unit,
                Calls = reader.GetInt64(5),
                CacheHits = reader.GetInt64(6),
                InputTokens = reader.GetInt64(7),
                OutputTokens = reader.GetInt64(8),
                AvoidedTokens = reader.GetInt64(9),
                ProviderCacheSaved = reader.GetInt64(10) / Unit,
            });
        }

        return CostLedgerAggregation.Fold(partial, query);
    }

    /// <inheritdoc />
    /// <exception cref="SqliteException">The file cannot be opened or read.</exception>
    public async Task PingAsync(CancellationToken cancellationToken = default)
    {
        await using SqliteConnection connection = Open();
        await using SqliteCommand command = connection.CreateCommand();
        command.CommandText = "SELECT count(*) FROM ledger_entries WHERE 0;";
        _ = await command.ExecuteScalarAsync(cancellationToken);
    }

    /// <summary>Deletes the entries older than a moment (retention).</summary>
    /// <param name="olderThan">Entries with a timestamp before it are deleted.</param>
    /// <param name="cancellationToken">Cancels the deletion.</param>
    /// <returns>How many entries were deleted.</returns>
    public async Task<int> PruneAsync(DateTimeOffset olderThan, CancellationToken cancellationToken = default)
    {
        await _buffer.FlushBeforeReadAsync(cancellationToken);
        await using SqliteConnection connection = Open();
        await using SqliteCommand command = connection.CreateCommand();
        command.CommandText = "DELETE FROM ledger_entries WHERE ts_ms < $before";
        _ = command.Parameters.AddWithValue("$before", olderThan.ToUnixTimeMilliseconds());
        return await command.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <summary>Writes what is in the buffer and stops the writer.</summary>
    /// <returns>A task that completes when the buffer is on disk.</returns>
    public ValueTask DisposeAsync() => _buffer.DisposeAsync();

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

    private async Task WriteAsync(List<LedgerReceipt> batch, CancellationToken cancellationToken)
    {
        await using SqliteConnection connection = Open();
        await using SqliteTransaction transaction = (SqliteTransaction)await connection.BeginTransactionAsync(cancellationToken);
        await using SqliteCommand insert = connection.CreateCommand();
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
        foreach (LedgerReceipt pending in batch)
        {
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

                _ = await insert.ExecuteNonQueryAsync(cancellationToken);
            }
        }

        await transaction.CommitAsync(cancellationToken);
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

    private static void Migrate(SqliteConnection connection, string path)
    {
        using SqliteCommand wal = connection.CreateCommand();
        wal.CommandText = "PRAGMA journal_mode = WAL;";
        _ = wal.ExecuteNonQuery();

        // BEGIN IMMEDIATE: two processes opening one old file at once migrate it once, one after the other.
        using SqliteTransaction transaction = connection.BeginTransaction(deferred: false);
        using SqliteCommand version = connection.CreateCommand();
        version.Transaction = transaction;
        version.CommandText = "PRAGMA user_version;";
        int current = Convert.ToInt32(version.ExecuteScalar(), CultureInfo.InvariantCulture);
        if (current > Migrations.Length)
        {
            throw new InvalidOperationException(
                $"The ledger file '{path}' has schema version {current}, newer than this version of CostAware writes ({Migrations.Length}). Update CostAware.Ledger.Sqlite, or use another file.");
        }

        for (int step = current; step < Migrations.Length; step++)
        {
            using SqliteCommand migrate = connection.CreateCommand();
            migrate.Transaction = transaction;
            migrate.CommandText = Migrations[step] + $"PRAGMA user_version = {step + 1};";
            _ = migrate.ExecuteNonQuery();
        }

        transaction.Commit();
    }
}

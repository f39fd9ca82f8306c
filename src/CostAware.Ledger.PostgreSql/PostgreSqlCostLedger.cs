using System.Runtime.CompilerServices;
using System.Text.RegularExpressions;
using CostAware.Ledger.Internal;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;
using NpgsqlTypes;

namespace CostAware;

/// <summary>
/// A cost ledger in PostgreSQL, shared by every machine of an app. <see cref="RecordAsync"/> never writes on the
/// caller's path: receipts go to a bounded buffer that a background writer empties in batches, one statement per batch,
/// idempotently (an entry is keyed by its receipt id and position, so a receipt recorded twice, by one machine or
/// several, is stored once). Queries and aggregates first wait for what was recorded before them to be written.
/// </summary>
/// <remarks>
/// <para>
/// The database may be down when the app starts or later: the ledger opens without it, receipts wait in the buffer, the
/// batch in hand is retried with a growing pause (nothing dropped while the buffer has room; <see cref="FailingSince"/>
/// says since when), and everything is written when the server is back. When the buffer is full,
/// <see cref="RecordAsync"/> waits up to <see cref="BufferedCostLedgerOptions.FullWait"/>, then drops the receipt,
/// logs it and counts it (<see cref="Dropped"/>, metric <c>costaware.ledger.dropped</c>).
/// </para>
/// <para>
/// The schema is versioned (table <c>schema_version</c> in <see cref="PostgreSqlCostLedgerOptions.Schema"/>) and migrated
/// before the first write or query, under a transaction-scoped advisory lock so that machines starting at once migrate
/// it once; <see cref="MigrateAsync"/> does it up front. A schema newer than this library is refused with a clear error.
/// Money is stored as <c>numeric</c> (exact) and summed in the database. Thread-safe.
/// </para>
/// </remarks>
public sealed partial class PostgreSqlCostLedger : IBufferedCostLedger, ICostLedgerAggregates, IAsyncDisposable
{
    private const long MigrationLock = 0x436f737441776172; // "CostAwar"
    private static readonly string[] Dimensions = ["tenant", "user_id", "api_key", "agent", "workflow", "feature"];

    // Each step takes the schema from the version before it to its own (index + 1); a new version appends a step.
    private static readonly string[] Migrations =
    [
        """
        CREATE TABLE IF NOT EXISTS {0}.ledger_entries (
            receipt_id uuid NOT NULL, entry_index integer NOT NULL, ts timestamptz NOT NULL, kind smallint NOT NULL,
            model text, provider text, stage text,
            tenant text, user_id text, api_key text, agent text, workflow text, feature text,
            input bigint NOT NULL, cached_input bigint NOT NULL, cache_write bigint NOT NULL, cache_write_1h bigint NOT NULL,
            output bigint NOT NULL, reasoning bigint NOT NULL,
            cost numeric, avoided numeric,
            cost_input numeric, cost_cached numeric, cost_write numeric, cost_output numeric, cost_reasoning numeric,
            estimated boolean NOT NULL, batch boolean NOT NULL, cost_source smallint NOT NULL, cache_saved numeric,
            PRIMARY KEY (receipt_id, entry_index));
        CREATE INDEX IF NOT EXISTS ledger_entries_ts ON {0}.ledger_entries (ts);
        CREATE INDEX IF NOT EXISTS ledger_entries_tenant_ts ON {0}.ledger_entries (tenant, ts);
        CREATE INDEX IF NOT EXISTS ledger_entries_agent_ts ON {0}.ledger_entries (agent, ts);
        CREATE INDEX IF NOT EXISTS ledger_entries_feature_ts ON {0}.ledger_entries (feature, ts);
        """,
    ];

    private readonly NpgsqlDataSource _dataSource;
    private readonly bool _ownsDataSource;
    private readonly string _schema;
    private readonly LedgerWriteBuffer _buffer;
    private readonly ILogger _logger;
    private readonly SemaphoreSlim _migrating = new(1, 1);
    private volatile bool _migrated;

    /// <summary>Initializes a new instance of the <see cref="PostgreSqlCostLedger"/> class. Opens no connection.</summary>
    /// <param name="options">The connection string and how the writer behaves.</param>
    /// <param name="loggerFactory">Where the ledger logs, or <see langword="null"/>.</param>
    /// <param name="dataSource">
    /// The app's data source (the app keeps it and disposes it; the options' connection string is then ignored), or
    /// <see langword="null"/> for one of the ledger's own over <see cref="PostgreSqlCostLedgerOptions.ConnectionString"/>.
    /// </param>
    /// <exception cref="ArgumentNullException"><paramref name="options"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException">The options are not valid (no connection string, a bad schema name, a capacity or wait out of range).</exception>
    public PostgreSqlCostLedger(PostgreSqlCostLedgerOptions options, ILoggerFactory? loggerFactory = null, NpgsqlDataSource? dataSource = null)
        : this(dataSource ?? NpgsqlDataSource.Create(ValidConnectionString(options)), ownsDataSource: dataSource is null, options, loggerFactory)
    {
    }

    private PostgreSqlCostLedger(NpgsqlDataSource dataSource, bool ownsDataSource, PostgreSqlCostLedgerOptions options, ILoggerFactory? loggerFactory)
    {
        ArgumentNullException.ThrowIfNull(options);
        LedgerWriteBuffer.Validate(options, nameof(PostgreSqlCostLedgerOptions));
        if (!SchemaName().IsMatch(options.Schema ?? string.Empty))
        {
            throw new ArgumentException($"PostgreSqlCostLedgerOptions: Schema '{options.Schema}' must be a plain identifier (letters, digits and underscores, not starting with a digit, at most 63).", nameof(options));
        }

        _dataSource = dataSource;
        _ownsDataSource = ownsDataSource;
        _schema = "\"" + options.Schema + "\"";
        _logger = (loggerFactory ?? NullLoggerFactory.Instance).CreateLogger<PostgreSqlCostLedger>();
        _buffer = new LedgerWriteBuffer(WriteAsync, options, _logger);
    }

    /// <summary>Gets the schema version this library writes.</summary>
    public static int SchemaVersion => Migrations.Length;

    /// <inheritdoc />
    public int Capacity => _buffer.Capacity;

    /// <inheritdoc />
    public long Buffered => _buffer.Buffered;

    /// <inheritdoc />
    public long Dropped => _buffer.Dropped;

    /// <inheritdoc />
    public DateTimeOffset? FailingSince => _buffer.FailingSince;

    /// <inheritdoc />
    /// <remarks>Returns once the receipt is in the buffer (a snapshot of its entries now), not once it is stored.</remarks>
    public ValueTask RecordAsync(CostReceipt receipt, CancellationToken cancellationToken = default) => _buffer.RecordAsync(receipt, cancellationToken);

    /// <inheritdoc />
    public Task FlushAsync(CancellationToken cancellationToken = default) => _buffer.FlushAsync(cancellationToken);

    /// <summary>
    /// Creates or migrates the ledger's schema now (it is otherwise done before the first write or query), so that an app
    /// can stop at start-up when the database is unusable.
    /// </summary>
    /// <param name="cancellationToken">The token to monitor for cancellation requests.</param>
    /// <returns>A task that completes when the schema is current.</returns>
    /// <exception cref="InvalidOperationException">The schema was written by a newer version of CostAware.</exception>
    /// <exception cref="NpgsqlException">The server cannot be reached or refused the change.</exception>
    public async Task MigrateAsync(CancellationToken cancellationToken = default)
    {
        if (_migrated)
        {
            return;
        }

        await _migrating.WaitAsync(cancellationToken);
        try
        {
            if (_migrated)
            {
                return;
            }

            await using NpgsqlConnection connection = await _dataSource.OpenConnectionAsync(cancellationToken);
            await using NpgsqlTransaction transaction = await connection.BeginTransactionAsync(cancellationToken);
            await ExecuteAsync(connection, transaction, $"SELECT pg_advisory_xact_lock({MigrationLock})", cancellationToken);
            await ExecuteAsync(connection, transaction, $"""
                CREATE SCHEMA IF NOT EXISTS {_schema};
                CREATE TABLE IF NOT EXISTS {_schema}.schema_version (id integer PRIMARY KEY CHECK (id = 1), version integer NOT NULL);
                INSERT INTO {_schema}.schema_version VALUES (1, 0) ON CONFLICT DO NOTHING;
                """, cancellationToken);
            await using NpgsqlCommand read = new($"SELECT version FROM {_schema}.schema_version", connection, transaction);
            int current = (int)(await read.ExecuteScalarAsync(cancellationToken))!;
            if (current > Migrations.Length)
            {
                throw new InvalidOperationException(
                    $"The ledger's schema {_schema} has version {current}, newer than this version of CostAware writes ({Migrations.Length}). Update CostAware.Ledger.PostgreSql, or use another schema.");
            }

            for (int step = current; step < Migrations.Length; step++)
            {
                await ExecuteAsync(connection, transaction, string.Format(System.Globalization.CultureInfo.InvariantCulture, Migrations[step], _schema), cancellationToken);
                await ExecuteAsync(connection, transaction, $"UPDATE {_schema}.schema_version SET version = {step + 1}", cancellationToken);
            }

            await transaction.CommitAsync(cancellationToken);
            _migrated = true;
        }
        finally
        {
            _ = _migrating.Release();
        }
    }

    /// <inheritdoc />
    public async IAsyncEnumerable<CostLedgerRecord> QueryAsync(CostLedgerQuery query, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(query);
        await _buffer.FlushBeforeReadAsync(cancellationToken);
        await MigrateAsync(cancellationToken);
        await using NpgsqlConnection connection = await _dataSource.OpenConnectionAsync(cancellationToken);
        await using NpgsqlCommand command = connection.CreateCommand();
        command.CommandText = $"SELECT * FROM {_schema}.ledger_entries WHERE {Where(command, query)} ORDER BY ts, receipt_id, entry_index";
        await using NpgsqlDataReader reader = await command.ExecuteReaderAsync(cancellationToken);
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
        await MigrateAsync(cancellationToken);
        await using NpgsqlConnection connection = await _dataSource.OpenConnectionAsync(cancellationToken);
        await using NpgsqlCommand command = connection.CreateCommand();
        string key = query.GroupBy is { } dimension ? Dimensions[(int)dimension] : "NULL::text";
        string model = query.ByModel ? "model" : "NULL::text";
        long quarter = (long)CostLedgerAggregation.PartialBucket.TotalSeconds;

        // Summed per quarter hour in SQL (every time zone's offset is a multiple of 15 minutes), then into the zone's
        // buckets by CostLedgerAggregation.Fold.
        command.CommandText = $"""
            SELECT {key} AS k, {model} AS m, floor(extract(epoch FROM ts) / {quarter})::bigint AS q,
                   coalesce(sum(cost) FILTER (WHERE kind IN ({(int)CostEntryKind.ProviderCall}, {(int)CostEntryKind.Embedding})), 0),
                   coalesce(sum(avoided), 0),
                   count(*) FILTER (WHERE kind = {(int)CostEntryKind.ProviderCall}),
                   count(*) FILTER (WHERE kind = {(int)CostEntryKind.CacheHit}),
                   coalesce(sum(input) FILTER (WHERE kind <> {(int)CostEntryKind.CacheHit}), 0)::bigint,
                   coalesce(sum(output) FILTER (WHERE kind <> {(int)CostEntryKind.CacheHit}), 0)::bigint,
                   coalesce(sum(input + output) FILTER (WHERE kind = {(int)CostEntryKind.CacheHit}), 0)::bigint,
                   coalesce(sum(cache_saved), 0)
            FROM {_schema}.ledger_entries WHERE {Where(command, query.Filter ?? CostLedgerQuery.All)}
            GROUP BY 1, 2, 3
            """;
        List<CostLedgerAggregate> partial = [];
        await using NpgsqlDataReader reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            partial.Add(new CostLedgerAggregate
            {
                Key = await reader.IsDBNullAsync(0, cancellationToken) ? null : reader.GetString(0),
                ModelId = await reader.IsDBNullAsync(1, cancellationToken) ? null : reader.GetString(1),
                BucketStart = DateTimeOffset.FromUnixTimeSeconds(reader.GetInt64(2) * quarter),
                Spent = reader.GetDecimal(3),
                Avoided = reader.GetDecimal(4),
                Calls = reader.GetInt64(5),
                CacheHits = reader.GetInt64(6),
                InputTokens = reader.GetInt64(7),
                OutputTokens = reader.GetInt64(8),
                AvoidedTokens = reader.GetInt64(9),
                ProviderCacheSaved = reader.GetDecimal(10),
            });
        }

        return CostLedgerAggregation.Fold(partial, query);
    }

    /// <summary>Deletes the entries older than a moment (retention).</summary>
    /// <param name="olderThan">Entries with a timestamp before it are deleted.</param>
    /// <param name="cancellationToken">Cancels the deletion.</param>
    /// <returns>How many entries were deleted.</returns>
    public async Task<int> PruneAsync(DateTimeOffset olderThan, CancellationToken cancellationToken = default)
    {
        await _buffer.FlushBeforeReadAsync(cancellationToken);
        await MigrateAsync(cancellationToken);
        await using NpgsqlCommand command = _dataSource.CreateCommand($"DELETE FROM {_schema}.ledger_entries WHERE ts < @before");
        _ = command.Parameters.AddWithValue("before", olderThan.UtcDateTime);
        return await command.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <inheritdoc />
    /// <exception cref="NpgsqlException">The server cannot be reached.</exception>
    public async Task PingAsync(CancellationToken cancellationToken = default)
    {
        await using NpgsqlCommand command = _dataSource.CreateCommand("SELECT 1");
        _ = await command.ExecuteScalarAsync(cancellationToken);
    }

    /// <summary>Writes what is in the buffer (waiting for the server if it is down) and stops the writer.</summary>
    /// <returns>A task that completes when the buffer is stored.</returns>
    public async ValueTask DisposeAsync()
    {
        await _buffer.DisposeAsync();
        _migrating.Dispose();
        if (_ownsDataSource)
        {
            await _dataSource.DisposeAsync();
        }
    }

    private static string ValidConnectionString(PostgreSqlCostLedgerOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        return string.IsNullOrWhiteSpace(options.ConnectionString)
            ? throw new ArgumentException("PostgreSqlCostLedgerOptions: ConnectionString is required.", nameof(options))
            : options.ConnectionString;
    }

    private static async Task ExecuteAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, string sql, CancellationToken cancellationToken)
    {
        await using NpgsqlCommand command = new(sql, connection, transaction);
        _ = await command.ExecuteNonQueryAsync(cancellationToken);
    }

    // One statement per batch: every column as an array, unnested into rows; a row already stored is skipped.
    private async Task WriteAsync(List<LedgerReceipt> batch, CancellationToken cancellationToken)
    {
        await MigrateAsync(cancellationToken);
        int rows = batch.Sum(static r => r.Entries.Length);
        if (rows == 0)
        {
            return;
        }

        Guid[] receipt = new Guid[rows];
        int[] index = new int[rows];
        DateTime[] ts = new DateTime[rows];
        short[] kind = new short[rows], source = new short[rows];
        string?[] model = new string?[rows], provider = new string?[rows], stage = new string?[rows];
        string?[][] scope = [.. Dimensions.Select(_ => new string?[rows])];
        long[][] tokens = [.. Enumerable.Range(0, 6).Select(_ => new long[rows])];
        decimal?[][] money = [.. Enumerable.Range(0, 8).Select(_ => new decimal?[rows])];
        bool[] estimated = new bool[rows], isBatch = new bool[rows];
        int row = 0;
        foreach (LedgerReceipt r in batch)
        {
            for (int i = 0; i < r.Entries.Length; i++, row++)
            {
                CostReceiptEntry e = r.Entries[i];
                receipt[row] = r.ReceiptId;
                index[row] = i;
                ts[row] = e.Timestamp.UtcDateTime;
                kind[row] = (short)e.Kind;
                model[row] = e.ModelId;
                provider[row] = e.Provider;
                stage[row] = e.Stage;
                for (int d = 0; d < Dimensions.Length; d++)
                {
                    scope[d][row] = r.Scope.Get((CostScopeDimension)d);
                }

                (tokens[0][row], tokens[1][row], tokens[2][row]) = (e.Tokens.Input, e.Tokens.CachedInput, e.Tokens.CacheWrite);
                (tokens[3][row], tokens[4][row], tokens[5][row]) = (e.Tokens.CacheWrite1h, e.Tokens.Output, e.Tokens.Reasoning);
                (money[0][row], money[1][row], money[2][row], money[3][row]) = (e.Cost?.Total, e.CostAvoided, e.Cost?.Input, e.Cost?.CachedInput);
                (money[4][row], money[5][row], money[6][row], money[7][row]) = (e.Cost?.CacheWrite, e.Cost?.Output, e.Cost?.Reasoning, e.ProviderCacheSaved);
                (estimated[row], isBatch[row], source[row]) = (e.IsEstimated, e.IsBatch, (short)e.CostSource);
            }
        }

        await using NpgsqlCommand insert = _dataSource.CreateCommand($"""
            INSERT INTO {_schema}.ledger_entries (
                receipt_id, entry_index, ts, kind, model, provider, stage, tenant, user_id, api_key, agent, workflow, feature,
                input, cached_input, cache_write, cache_write_1h, output, reasoning,
                cost, avoided, cost_input, cost_cached, cost_write, cost_output, cost_reasoning, cache_saved,
                estimated, batch, cost_source)
            SELECT * FROM unnest($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19,
                                 $20, $21, $22, $23, $24, $25, $26, $27, $28, $29, $30)
            ON CONFLICT (receipt_id, entry_index) DO NOTHING
            """);
        NpgsqlParameterCollection p = insert.Parameters;
        _ = p.Add(new NpgsqlParameter<Guid[]> { TypedValue = receipt, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Uuid });
        _ = p.Add(new NpgsqlParameter<int[]> { TypedValue = index, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Integer });
        _ = p.Add(new NpgsqlParameter<DateTime[]> { TypedValue = ts, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.TimestampTz });
        _ = p.Add(new NpgsqlParameter<short[]> { TypedValue = kind, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Smallint });
        foreach (string?[] text in (string?[][])[model, provider, stage, .. scope])
        {
            _ = p.Add(new NpgsqlParameter<string?[]> { TypedValue = text, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text });
        }

        foreach (long[] count in tokens)
        {
            _ = p.Add(new NpgsqlParameter<long[]> { TypedValue = count, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Bigint });
        }

        foreach (decimal?[] amount in money)
        {
            _ = p.Add(new NpgsqlParameter<decimal?[]> { TypedValue = amount, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Numeric });
        }

        _ = p.Add(new NpgsqlParameter<bool[]> { TypedValue = estimated, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Boolean });
        _ = p.Add(new NpgsqlParameter<bool[]> { TypedValue = isBatch, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Boolean });
        _ = p.Add(new NpgsqlParameter<short[]> { TypedValue = source, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Smallint });
        _ = await insert.ExecuteNonQueryAsync(cancellationToken);
    }

    private static string Where(NpgsqlCommand command, CostLedgerQuery query)
    {
        List<string> clauses = ["TRUE"];
        void Add(string clause, object? value)
        {
            if (value is not null)
            {
                string name = "f" + command.Parameters.Count;
                clauses.Add(string.Format(System.Globalization.CultureInfo.InvariantCulture, clause, "@" + name));
                _ = command.Parameters.AddWithValue(name, value);
            }
        }

        for (int d = 0; d < Dimensions.Length; d++)
        {
            Add(Dimensions[d] + " = {0}", query.Scope?.Get((CostScopeDimension)d));
        }

        Add("lower(model) = lower({0})", query.ModelId);
        Add("lower(provider) = lower({0})", query.Provider);
        Add("kind = {0}", query.Kind is { } kind ? (short)kind : null);
        Add("ts >= {0}", query.From?.UtcDateTime);
        Add("ts < {0}", query.To?.UtcDateTime);
        return string.Join(" AND ", clauses);
    }

    private static CostLedgerRecord Read(NpgsqlDataReader r)
    {
        string? S(string column) => r.IsDBNull(r.GetOrdinal(column)) ? null : r.GetString(r.GetOrdinal(column));
        long L(string column) => r.GetInt64(r.GetOrdinal(column));
        decimal? D(string column) => r.IsDBNull(r.GetOrdinal(column)) ? null : r.GetDecimal(r.GetOrdinal(column));
        CostBreakdown? cost = D("cost") is null ? null : new CostBreakdown
        {
            Input = D("cost_input") ?? 0m, CachedInput = D("cost_cached") ?? 0m, CacheWrite = D("cost_write") ?? 0m, Output = D("cost_output") ?? 0m, Reasoning = D("cost_reasoning") ?? 0m,
        };
        CostScope scope = new() { Tenant = S("tenant"), User = S("user_id"), ApiKey = S("api_key"), Agent = S("agent"), Workflow = S("workflow"), Feature = S("feature") };
        CostReceiptEntry entry = new()
        {
            Kind = (CostEntryKind)r.GetInt16(r.GetOrdinal("kind")),
            ModelId = S("model"),
            Provider = S("provider"),
            Stage = S("stage"),
            Timestamp = new DateTimeOffset(r.GetDateTime(r.GetOrdinal("ts")), TimeSpan.Zero),
            Tokens = new TokenCounts { Input = L("input"), CachedInput = L("cached_input"), CacheWrite = L("cache_write"), CacheWrite1h = L("cache_write_1h"), Output = L("output"), Reasoning = L("reasoning") },
            Cost = cost,
            CostAvoided = D("avoided"),
            IsEstimated = r.GetBoolean(r.GetOrdinal("estimated")),
            IsBatch = r.GetBoolean(r.GetOrdinal("batch")),
            CostSource = (CostSource)r.GetInt16(r.GetOrdinal("cost_source")),
        };
        return new CostLedgerRecord(r.GetGuid(r.GetOrdinal("receipt_id")), scope, entry);
    }

    [GeneratedRegex("^[A-Za-z_][A-Za-z0-9_]{0,62}$")]
    private static partial Regex SchemaName();
}

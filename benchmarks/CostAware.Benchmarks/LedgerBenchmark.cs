using BenchmarkDotNet.Attributes;
using Npgsql;
using NpgsqlTypes;

namespace CostAware.Benchmarks;

// The durable ledgers against the plain way to store the same rows with the same driver, in one run.
//  - Throughput (10,000 receipts of 2 entries): the ledger's RecordAsync for each receipt, then FlushAsync (everything
//    committed), against plain batched inserts of 256 receipts a transaction awaited by the caller.
//  - The request path: one RecordAsync (what a call waits for) against one awaited single-receipt INSERT (what a ledger
//    that writes on the request path would add to every call).
// PostgreSQL is the server COSTAWARE_TEST_POSTGRES names (./build.sh starts one for the tests); SQLite a temporary file.
[MemoryDiagnoser]
[SimpleJob(launchCount: 1, warmupCount: 2, iterationCount: 8)]
public class LedgerBenchmark : LedgerBenchmarkBase
{
    [Benchmark(Baseline = true, OperationsPerInvoke = Receipts)]
    public Task PlainBatchedInserts() => PlainBatchedInsertsAsync();

    [Benchmark(OperationsPerInvoke = Receipts)]
    public async Task LedgerRecordThenFlush()
    {
        IBufferedCostLedger ledger = Ledger;
        foreach (CostReceipt receipt in AllReceipts)
        {
            await ledger.RecordAsync(receipt);
        }

        await ledger.FlushAsync();
    }
}

// The request path: 2,048 calls an iteration, so that the ledger's buffer (100,000) never fills while its writer drains.
[MemoryDiagnoser]
[MaxColumn]
[SimpleJob(launchCount: 1, warmupCount: 2, iterationCount: 10, invocationCount: 2048)]
public class LedgerRequestPathBenchmark : LedgerBenchmarkBase
{
    // What one call waits for: the ledger's RecordAsync (the writer drains in the background, so the buffer never fills
    // in this loop's 10,000 receipts).
    [Benchmark]
    public ValueTask RequestPath_RecordAsync() => Ledger.RecordAsync(NextReceipt());

    // What one call would wait for if the ledger wrote on the request path: one awaited single-receipt INSERT.
    [Benchmark(Baseline = true)]
    public Task RequestPath_AwaitedInsert() => InsertOneAsync(NextReceipt());
}

public abstract class LedgerBenchmarkBase
{
    protected const int Receipts = 10_000;
    private const int Batch = 256;
    private readonly string _sqlitePath = Path.Combine(Path.GetTempPath(), $"costaware-bench-{Environment.ProcessId}.db");
    private CostReceipt[] _receipts = null!;
    private NpgsqlDataSource _postgres = null!;
    private PostgreSqlCostLedger _pgLedger = null!;
    private SqliteCostLedger _sqliteLedger = null!;
    private int _next;

    [Params("postgresql", "sqlite")]
    public string Database { get; set; } = "postgresql";

    [GlobalSetup]
    public async Task Setup()
    {
        DateTimeOffset at = new(2026, 12, 6, 10, 0, 0, TimeSpan.Zero);
        _receipts = [.. Enumerable.Range(0, Receipts).Select(i => Receipt(at.AddSeconds(i), $"tenant-{i % 50}"))];
        string connection = Environment.GetEnvironmentVariable("COSTAWARE_TEST_POSTGRES")
            ?? throw new InvalidOperationException("Set COSTAWARE_TEST_POSTGRES to a PostgreSQL connection string.");
        _postgres = NpgsqlDataSource.Create(connection);
        _pgLedger = new PostgreSqlCostLedger(new PostgreSqlCostLedgerOptions { ConnectionString = connection, Schema = "bench", Capacity = 100_000 });
        await _pgLedger.MigrateAsync();
        Execute("CREATE TABLE IF NOT EXISTS bench.plain (LIKE bench.ledger_entries INCLUDING ALL)");
        _sqliteLedger = new SqliteCostLedger(new SqliteCostLedgerOptions { Path = _sqlitePath, Capacity = 100_000 });
        using Microsoft.Data.Sqlite.SqliteConnection sqlite = new($"Data Source={_sqlitePath}");
        sqlite.Open();
        using Microsoft.Data.Sqlite.SqliteCommand create = sqlite.CreateCommand();
        // The same table and indexes as the ledger's (key, time, tenant, agent and feature), so that both pay the same
        // B-tree work per row.
        create.CommandText = """
            CREATE TABLE IF NOT EXISTS plain AS SELECT * FROM ledger_entries WHERE 0;
            CREATE UNIQUE INDEX IF NOT EXISTS plain_key ON plain (receipt_id, entry_index);
            CREATE INDEX IF NOT EXISTS plain_ts ON plain (ts_ms);
            CREATE INDEX IF NOT EXISTS plain_tenant_ts ON plain (tenant, ts_ms);
            CREATE INDEX IF NOT EXISTS plain_agent_ts ON plain (agent, ts_ms);
            CREATE INDEX IF NOT EXISTS plain_feature_ts ON plain (feature, ts_ms);
            """;
        _ = create.ExecuteNonQuery();
    }

    [IterationSetup]
    public void Reset()
    {
        Execute("TRUNCATE bench.ledger_entries, bench.plain");
        using Microsoft.Data.Sqlite.SqliteConnection sqlite = new($"Data Source={_sqlitePath}");
        sqlite.Open();
        using Microsoft.Data.Sqlite.SqliteCommand clear = sqlite.CreateCommand();
        clear.CommandText = "DELETE FROM ledger_entries; DELETE FROM plain;";
        _ = clear.ExecuteNonQuery();
        _next = 0;
    }

    [GlobalCleanup]
    public async Task Cleanup()
    {
        await _pgLedger.DisposeAsync();
        _sqliteLedger.Dispose();
        Execute("DROP SCHEMA bench CASCADE");
        _postgres.Dispose();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        File.Delete(_sqlitePath);
    }

    // The plain way with the same driver: the ledger's own row (every column), inserted in batches of 256 receipts, one
    // transaction each, awaited by the caller (PostgreSQL: one NpgsqlBatch of single-row INSERTs; SQLite: one prepared
    // INSERT executed per row).
    protected async Task PlainBatchedInsertsAsync()
    {
        for (int start = 0; start < Receipts; start += Batch)
        {
            ArraySegment<CostReceipt> batch = new(_receipts, start, Math.Min(Batch, Receipts - start));
            if (Database == "postgresql")
            {
                await using NpgsqlConnection connection = await _postgres.OpenConnectionAsync();
                await using NpgsqlTransaction transaction = await connection.BeginTransactionAsync();
                await using NpgsqlBatch insert = new(connection, transaction);
                foreach (CostReceipt receipt in batch)
                {
                    for (int i = 0; i < receipt.Entries.Length; i++)
                    {
                        NpgsqlBatchCommand command = new(PostgresInsert);
                        foreach (object? value in Row(receipt, i, postgres: true))
                        {
                            command.Parameters.Add(new NpgsqlParameter { Value = value ?? DBNull.Value });
                        }

                        insert.BatchCommands.Add(command);
                    }
                }

                _ = await insert.ExecuteNonQueryAsync();
                await transaction.CommitAsync();
            }
            else
            {
                await using Microsoft.Data.Sqlite.SqliteConnection connection = new($"Data Source={_sqlitePath}");
                await connection.OpenAsync();
                await using Microsoft.Data.Sqlite.SqliteTransaction transaction = (Microsoft.Data.Sqlite.SqliteTransaction)await connection.BeginTransactionAsync();
                await using Microsoft.Data.Sqlite.SqliteCommand insert = connection.CreateCommand();
                insert.CommandText = SqliteInsert;
                Microsoft.Data.Sqlite.SqliteParameter[] parameters = [.. Enumerable.Range(1, 32).Select(n => insert.Parameters.Add("$p" + n, Microsoft.Data.Sqlite.SqliteType.Text))];
                foreach (CostReceipt receipt in batch)
                {
                    for (int i = 0; i < receipt.Entries.Length; i++)
                    {
                        object?[] row = Row(receipt, i, postgres: false);
                        for (int v = 0; v < row.Length; v++)
                        {
                            parameters[v].Value = row[v] ?? DBNull.Value;
                        }

                        _ = await insert.ExecuteNonQueryAsync();
                    }
                }

                await transaction.CommitAsync();
            }
        }
    }

    private static readonly string PostgresInsert = $"INSERT INTO bench.plain VALUES ({string.Join(", ", Enumerable.Range(1, 30).Select(n => "$" + n))}) ON CONFLICT DO NOTHING";
    private static readonly string SqliteInsert = $"INSERT OR IGNORE INTO plain VALUES ({string.Join(", ", Enumerable.Range(1, 32).Select(n => "$p" + n))})";

    // One receipt's first entry, inserted and awaited as a ledger on the request path would.
    protected async Task InsertOneAsync(CostReceipt receipt)
    {
        object?[] row = Row(receipt, 0, Database == "postgresql");
        if (Database == "postgresql")
        {
            await using NpgsqlCommand insert = _postgres.CreateCommand(PostgresInsert);
            foreach (object? value in row)
            {
                insert.Parameters.Add(new NpgsqlParameter { Value = value ?? DBNull.Value });
            }

            _ = await insert.ExecuteNonQueryAsync();
        }
        else
        {
            await using Microsoft.Data.Sqlite.SqliteConnection connection = new($"Data Source={_sqlitePath}");
            await connection.OpenAsync();
            await using Microsoft.Data.Sqlite.SqliteCommand insert = connection.CreateCommand();
            insert.CommandText = SqliteInsert;
            for (int v = 0; v < row.Length; v++)
            {
                _ = insert.Parameters.AddWithValue("$p" + (v + 1), row[v] ?? DBNull.Value);
            }

            _ = await insert.ExecuteNonQueryAsync();
        }
    }

    // A ledger row as both ledgers store it (PostgreSQL's column order and types, or SQLite's).
    private static object?[] Row(CostReceipt receipt, int index, bool postgres)
    {
        CostReceiptEntry e = receipt.Entries[index];
        CostScope s = receipt.Scope;
        decimal? total = e.Cost?.Total;
        return postgres
            ?
            [
                receipt.Id, index, e.Timestamp.UtcDateTime, (short)e.Kind, e.ModelId, e.Provider, e.Stage, s.Tenant, s.User, s.ApiKey, s.Agent, s.Workflow, s.Feature,
                e.Tokens.Input, e.Tokens.CachedInput, e.Tokens.CacheWrite, e.Tokens.CacheWrite1h, e.Tokens.Output, e.Tokens.Reasoning,
                total, e.CostAvoided, e.Cost?.Input, e.Cost?.CachedInput, e.Cost?.CacheWrite, e.Cost?.Output, e.Cost?.Reasoning,
                e.IsEstimated, e.IsBatch, (short)e.CostSource, e.ProviderCacheSaved,
            ]
            :
            [
                receipt.Id.ToString("D"), index, e.Timestamp.ToUnixTimeMilliseconds(), (int)e.Kind, e.ModelId, e.Provider, e.Stage, s.Tenant, s.User, s.ApiKey, s.Agent, s.Workflow, s.Feature,
                e.Tokens.Input, e.Tokens.CachedInput, e.Tokens.CacheWrite, e.Tokens.CacheWrite1h, e.Tokens.Output, e.Tokens.Reasoning,
                total?.ToString(System.Globalization.CultureInfo.InvariantCulture), (long)((total ?? 0m) * 10_000_000_000m), e.CostAvoided?.ToString(System.Globalization.CultureInfo.InvariantCulture), (long)((e.CostAvoided ?? 0m) * 10_000_000_000m),
                e.Cost?.Input.ToString(System.Globalization.CultureInfo.InvariantCulture), e.Cost?.CachedInput.ToString(System.Globalization.CultureInfo.InvariantCulture), e.Cost?.CacheWrite.ToString(System.Globalization.CultureInfo.InvariantCulture),
                e.Cost?.Output.ToString(System.Globalization.CultureInfo.InvariantCulture), e.Cost?.Reasoning.ToString(System.Globalization.CultureInfo.InvariantCulture),
                e.IsEstimated ? 1 : 0, e.IsBatch ? 1 : 0, (int)e.CostSource, 0L,
            ];
    }

    protected CostReceipt[] AllReceipts => _receipts;

    protected CostReceipt NextReceipt() => _receipts[_next++ % Receipts];

    protected NpgsqlDataSource Postgres => _postgres;

    protected string SqlitePath => _sqlitePath;

    protected IBufferedCostLedger Ledger => Database == "postgresql" ? _pgLedger : _sqliteLedger;

    private static CostReceipt Receipt(DateTimeOffset at, string tenant)
    {
        CostReceipt receipt = new(Guid.NewGuid(), new CostScope { Tenant = tenant, Feature = "chat" }, at);
        receipt.Add(new CostReceiptEntry
        {
            Kind = CostEntryKind.ProviderCall, ModelId = "gpt-4o-mini", Provider = "openai", Timestamp = at, Stage = "metering",
            Tokens = new TokenCounts { Input = 1200, Output = 300 }, Cost = new CostBreakdown { Input = 0.00018m, Output = 0.00018m },
        });
        receipt.Add(new CostReceiptEntry { Kind = CostEntryKind.CacheHit, ModelId = "gpt-4o-mini", Timestamp = at, Tokens = new TokenCounts { Input = 1200, Output = 300 }, CostAvoided = 0.00036m });
        return receipt;
    }

    private void Execute(string sql)
    {
        using NpgsqlCommand command = _postgres.CreateCommand(sql);
        _ = command.ExecuteNonQuery();
    }
}

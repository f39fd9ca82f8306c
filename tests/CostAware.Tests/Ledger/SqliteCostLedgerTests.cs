using System.Diagnostics;
using System.Globalization;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace CostAware.Tests.Ledger;

public sealed class SqliteCostLedgerTests : DurableLedgerContract<SqliteCostLedger>, IDisposable
{
    private readonly string _path = Path.Combine(Path.GetTempPath(), "costaware-ledger-" + Guid.NewGuid().ToString("N") + ".db");

    public void Dispose()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        foreach (string file in new[] { _path, _path + "-wal", _path + "-shm" })
        {
            File.Delete(file);
        }
    }

    protected override SqliteCostLedger Open() => new(new SqliteCostLedgerOptions { Path = _path });

    protected override Task<int> PruneAsync(SqliteCostLedger ledger, DateTimeOffset olderThan) => ledger.PruneAsync(olderThan);

    [Fact]
    public async Task KilledMidWrite_EveryFlushedReceiptIsOnDisk_AndTheFileOpens()
    {
        string worker = Path.Combine(
            AppContext.BaseDirectory.Replace("CostAware.Tests", "CostAware.Ledger.Worker", StringComparison.Ordinal), "CostAware.Ledger.Worker.dll");
        Assert.True(File.Exists(worker), $"the worker was not built: {worker}");
        ProcessStartInfo start = new("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string argument in (string[])[worker, _path, "1000000"])
        {
            start.ArgumentList.Add(argument);
        }

        int flushed = 0;
        using (Process process = Process.Start(start)!)
        {
            // Killed (SIGKILL) while it records, once a few hundred receipts were acknowledged as on disk.
            while (flushed < 300 && await process.StandardOutput.ReadLineAsync() is { } line)
            {
                flushed = int.Parse(line["flushed ".Length..], CultureInfo.InvariantCulture);
            }

            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync();
        }

        Assert.True(flushed >= 300, "the worker stopped before it flushed 300 receipts");
        await using SqliteCostLedger ledger = Open();
        HashSet<Guid> stored = [.. await ledger.QueryAsync(CostLedgerQuery.All).Select(r => r.ReceiptId).ToListAsync()];
        for (int n = 0; n < flushed; n++)
        {
            Assert.Contains(new Guid(n, 0, 0, new byte[8]), stored);
        }
    }

    [Fact]
    public async Task AFullBuffer_DropsAndCounts_WhileTheFileIsLocked_AndTheRestIsWrittenWhenItIsFree()
    {
        DateTimeOffset at = new(2026, 12, 6, 10, 0, 0, TimeSpan.Zero);
        await using SqliteCostLedger ledger = new(new SqliteCostLedgerOptions { Path = _path, Capacity = 1, FullWait = TimeSpan.Zero });
        await ledger.FlushAsync();

        // Another process holds the write lock: the writer cannot commit, and the buffer of one fills.
        using (Microsoft.Data.Sqlite.SqliteConnection locker = new($"Data Source={_path};Pooling=False"))
        {
            locker.Open();
            using Microsoft.Data.Sqlite.SqliteCommand exclusive = locker.CreateCommand();
            exclusive.CommandText = "BEGIN EXCLUSIVE;";
            _ = exclusive.ExecuteNonQuery();
            for (int i = 0; i < 6; i++)
            {
                await ledger.RecordAsync(Receipt("acme", at, Call(at, 0.01m)));
            }

            exclusive.CommandText = "ROLLBACK;";
            _ = exclusive.ExecuteNonQuery();
        }

        await ledger.FlushAsync();
        long stored = await ledger.QueryAsync(CostLedgerQuery.All).CountAsync();
        Assert.InRange(ledger.Dropped, 1, 5);
        Assert.Equal(6 - ledger.Dropped, stored);
        Assert.Equal(0, ledger.Buffered);
    }

    // A receipt that waits for room and times out is dropped, and only then: it is never both counted dropped and
    // stored (a blocked channel write cancelled by the wait's timer could do both; it failed about 1 run in 6 under load).
    [Fact]
    public async Task AFullBuffer_NeverCountsAReceiptBothDroppedAndStored()
    {
        DateTimeOffset at = new(2026, 12, 6, 10, 0, 0, TimeSpan.Zero);
        for (int run = 0; run < 20; run++)
        {
            string path = _path + "." + run;
            await using (SqliteCostLedger ledger = new(new SqliteCostLedgerOptions { Path = path, Capacity = 1, FullWait = TimeSpan.Zero }))
            {
                await ledger.FlushAsync();
                HashSet<Guid> dropped = [];
                using (Microsoft.Data.Sqlite.SqliteConnection locker = new($"Data Source={path};Pooling=False"))
                {
                    locker.Open();
                    using Microsoft.Data.Sqlite.SqliteCommand exclusive = locker.CreateCommand();
                    exclusive.CommandText = "BEGIN EXCLUSIVE;";
                    _ = exclusive.ExecuteNonQuery();
                    for (int i = 0; i < 6; i++)
                    {
                        CostReceipt receipt = Receipt("acme", at, Call(at, 0.01m));
                        long before = ledger.Dropped;
                        await ledger.RecordAsync(receipt);
                        if (ledger.Dropped != before)
                        {
                            _ = dropped.Add(receipt.Id);
                        }
                    }

                    exclusive.CommandText = "ROLLBACK;";
                    _ = exclusive.ExecuteNonQuery();
                }

                await ledger.FlushAsync();
                List<Guid> stored = await ledger.QueryAsync(CostLedgerQuery.All).Select(static r => r.ReceiptId).ToListAsync();
                Assert.Empty(stored.Intersect(dropped));
                Assert.Equal(6, stored.Count + dropped.Count);
            }

            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            foreach (string file in new[] { path, path + "-wal", path + "-shm" })
            {
                File.Delete(file);
            }
        }
    }

    [Fact]
    public async Task AFileOfTheFirstSchema_IsMigratedWhenOpened_AndKeepsItsRows()
    {
        // The first released schema, as an earlier version wrote it, with one row.
        using (Microsoft.Data.Sqlite.SqliteConnection old = new($"Data Source={_path};Pooling=False"))
        {
            old.Open();
            using Microsoft.Data.Sqlite.SqliteCommand create = old.CreateCommand();
            create.CommandText = """
                PRAGMA journal_mode = WAL;
                CREATE TABLE ledger_entries (
                    receipt_id TEXT NOT NULL, entry_index INTEGER NOT NULL, ts_ms INTEGER NOT NULL, kind INTEGER NOT NULL,
                    model TEXT, provider TEXT, stage TEXT,
                    tenant TEXT, user_id TEXT, api_key TEXT, agent TEXT, workflow TEXT, feature TEXT,
                    input INTEGER NOT NULL, cached_input INTEGER NOT NULL, cache_write INTEGER NOT NULL, cache_write_1h INTEGER NOT NULL,
                    output INTEGER NOT NULL, reasoning INTEGER NOT NULL,
                    cost TEXT, cost_e10 INTEGER NOT NULL, avoided TEXT, avoided_e10 INTEGER NOT NULL,
                    cost_input TEXT, cost_cached TEXT, cost_write TEXT, cost_output TEXT, cost_reasoning TEXT,
                    estimated INTEGER NOT NULL, batch INTEGER NOT NULL, cost_source INTEGER NOT NULL, cache_saved_e10 INTEGER NOT NULL,
                    PRIMARY KEY (receipt_id, entry_index));
                CREATE INDEX ledger_entries_ts ON ledger_entries (ts_ms);
                CREATE INDEX ledger_entries_tenant_ts ON ledger_entries (tenant, ts_ms);
                INSERT INTO ledger_entries VALUES ('6f1c1f43-3a4e-4a43-9d55-2f2b3f3b1a01', 0, 1796551200000, 0, 'gpt-4o', 'openai', 'metering',
                    'acme', NULL, NULL, 'triage', NULL, 'faq', 1000, 0, 0, 0, 100, 0, '0.0125', 125000000, NULL, 0,
                    '0.0025', '0', '0', '0.01', '0', 0, 0, 0, 0);
                PRAGMA user_version = 1;
                """;
            _ = create.ExecuteNonQuery();
        }

        await using (SqliteCostLedger ledger = Open())
        {
            CostLedgerRecord row = await ledger.QueryAsync(new CostLedgerQuery { Scope = new CostScope { Agent = "triage" } }).SingleAsync();
            Assert.Equal(0.0125m, row.Entry.Cost!.Value.Total);
            Assert.Equal("acme", row.Scope.Tenant);
        }

        using Microsoft.Data.Sqlite.SqliteConnection check = new($"Data Source={_path};Pooling=False");
        check.Open();
        using Microsoft.Data.Sqlite.SqliteCommand read = check.CreateCommand();
        read.CommandText = "PRAGMA user_version;";
        Assert.Equal((long)SqliteCostLedger.SchemaVersion, (long)read.ExecuteScalar()!);
        read.CommandText = "SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name = 'ledger_entries_agent_ts';";
        Assert.Equal(1L, (long)read.ExecuteScalar()!);
    }

    [Fact]
    public void AFileOfANewerSchema_IsRefusedWithAClearError_AndNotWritten()
    {
        using (Microsoft.Data.Sqlite.SqliteConnection newer = new($"Data Source={_path};Pooling=False"))
        {
            newer.Open();
            using Microsoft.Data.Sqlite.SqliteCommand create = newer.CreateCommand();
            create.CommandText = "CREATE TABLE future (x INTEGER); PRAGMA user_version = 99;";
            _ = create.ExecuteNonQuery();
        }

        InvalidOperationException error = Assert.Throws<InvalidOperationException>(Open);
        Assert.Contains("schema version 99", error.Message, StringComparison.Ordinal);
        Assert.Contains(_path, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Registered_FromConfiguration_ItIsTheAppsLedgerAndAggregates_AndBadOptionsAreClearErrors()
    {
        IConfiguration configuration = new ConfigurationBuilder()
            .AddInMemoryCollection(new Dictionary<string, string?> { ["Ledger:Path"] = _path, ["Ledger:Capacity"] = "50" }).Build();
        ServiceCollection services = new();
        _ = services.AddCostAware().AddCostAwareSqliteLedger(configuration.GetSection("Ledger"));
        await using (ServiceProvider provider = services.BuildServiceProvider())
        {
            SqliteCostLedger ledger = provider.GetRequiredService<SqliteCostLedger>();
            Assert.Same(ledger, provider.GetRequiredService<ICostLedger>());
            Assert.Same(ledger, provider.GetRequiredService<IBufferedCostLedger>());
            Assert.Same(ledger, provider.GetRequiredService<ICostLedgerAggregates>());
            Assert.Equal(50, ledger.Capacity);
        }

        ServiceCollection defaults = new();
        await using (ServiceProvider provider = defaults.AddCostAware().BuildServiceProvider())
        {
            Assert.IsType<InMemoryCostLedger>(provider.GetRequiredService<ICostLedgerAggregates>());
        }

        IConfiguration typo = new ConfigurationBuilder()
            .AddInMemoryCollection(new Dictionary<string, string?> { ["Ledger:Pth"] = _path }).Build();
        _ = Assert.Throws<InvalidOperationException>(() => new ServiceCollection().AddCostAwareSqliteLedger(typo.GetSection("Ledger")));
        Microsoft.Extensions.Options.OptionsValidationException bad = Assert.Throws<Microsoft.Extensions.Options.OptionsValidationException>(
            () => new ServiceCollection().AddCostAwareSqliteLedger(new SqliteCostLedgerOptions { Path = _path, Capacity = 0 }));
        Assert.Contains("Capacity", bad.Message, StringComparison.Ordinal);
    }
}

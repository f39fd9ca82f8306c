using System.Diagnostics;
using System.Globalization;

namespace CostAware.Tests.Ledger;

public sealed class SqliteCostLedgerTests : IDisposable
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

    private static CostReceipt Receipt(string tenant, DateTimeOffset at, params CostReceiptEntry[] entries)
    {
        CostReceipt receipt = new(Guid.NewGuid(), new CostScope { Tenant = tenant, Feature = "faq" }, at);
        foreach (CostReceiptEntry entry in entries)
        {
            receipt.Add(entry);
        }

        return receipt;
    }

    private static CostReceiptEntry Call(DateTimeOffset at, decimal cost, long input = 1000, long output = 100) => new()
    {
        Kind = CostEntryKind.ProviderCall,
        ModelId = "gpt-4o",
        Provider = "openai",
        Timestamp = at,
        Tokens = new TokenCounts { Input = input, Output = output },
        Cost = new CostBreakdown { Input = cost / 2, Output = cost / 2 },
        Stage = "metering",
    };

    private static CostReceiptEntry Hit(DateTimeOffset at, decimal avoided) => new()
    {
        Kind = CostEntryKind.CacheHit,
        ModelId = "gpt-4o",
        Timestamp = at,
        Tokens = new TokenCounts { Input = 5000, Output = 500 },
        Cost = default(CostBreakdown),
        CostAvoided = avoided,
    };

    private SqliteCostLedger Open() => new(new SqliteCostLedgerOptions { Path = _path });

    [Fact]
    public async Task WhatIsRecorded_IsReadBackExactly_AndARepeatedReceiptIsStoredOnce()
    {
        DateTimeOffset at = new(2026, 12, 6, 10, 0, 0, TimeSpan.Zero);
        CostReceipt receipt = Receipt("acme", at, Call(at, 0.0000000123m), Hit(at, 0.0042m));
        await using (SqliteCostLedger ledger = Open())
        {
            await ledger.RecordAsync(receipt);
            await ledger.RecordAsync(receipt);
            await ledger.RecordAsync(Receipt("globex", at, Call(at, 1m)));

            List<CostLedgerRecord> acme = await ledger.QueryAsync(new CostLedgerQuery { Scope = new CostScope { Tenant = "acme" } }).ToListAsync();
            Assert.Equal(2, acme.Count);
            Assert.Equal(0.0000000123m, acme[0].Entry.Cost!.Value.Total);
            Assert.Equal(receipt.Id, acme[0].ReceiptId);
            Assert.Equal(0.0042m, acme[1].Entry.CostAvoided);
            Assert.Equal(new CostScope { Tenant = "acme", Feature = "faq" }, acme[0].Scope);
        }

        // Everything recorded before disposal is on disk: a new ledger on the file reads it.
        await using SqliteCostLedger reopened = Open();
        Assert.Equal(3, await reopened.QueryAsync(CostLedgerQuery.All).CountAsync());
    }

    [Fact]
    public async Task Aggregates_GroupByTenantAndDayInATimeZone_AndNeverCountCacheHitTokensAsSpent()
    {
        TimeZoneInfo paris = TimeZoneInfo.FindSystemTimeZoneById("Europe/Paris");
        DateTimeOffset lateUtc = new(2026, 12, 6, 23, 30, 0, TimeSpan.Zero); // 00:30 on the 7th in Paris
        DateTimeOffset earlyUtc = new(2026, 12, 6, 10, 0, 0, TimeSpan.Zero);
        await using SqliteCostLedger ledger = Open();
        await ledger.RecordAsync(Receipt("acme", earlyUtc, Call(earlyUtc, 0.5m), Hit(earlyUtc, 0.2m)));
        await ledger.RecordAsync(Receipt("acme", lateUtc, Call(lateUtc, 0.25m)));
        await ledger.RecordAsync(Receipt("globex", earlyUtc, Call(earlyUtc, 2m)));

        IReadOnlyList<CostLedgerAggregate> days = await ledger.AggregateAsync(new CostLedgerAggregateQuery { GroupBy = CostScopeDimension.Tenant, Bucket = CostLedgerBucket.Day, TimeZone = paris });

        Assert.Equal(3, days.Count);
        CostLedgerAggregate acme6 = days.Single(d => d.Key == "acme" && d.BucketStart.Day == 6);
        Assert.Equal(new DateTimeOffset(2026, 12, 6, 0, 0, 0, TimeSpan.FromHours(1)), acme6.BucketStart);
        Assert.Equal(0.5m, acme6.Spent);
        Assert.Equal(0.2m, acme6.Avoided);
        Assert.Equal((1, 1), (acme6.Calls, acme6.CacheHits));
        Assert.Equal(1000, acme6.InputTokens);
        Assert.Equal(5500, acme6.AvoidedTokens);
        Assert.Equal(0.25m, days.Single(d => d.Key == "acme" && d.BucketStart.Day == 7).Spent);

        IReadOnlyList<CostLedgerAggregate> top = await ledger.AggregateAsync(new CostLedgerAggregateQuery { GroupBy = CostScopeDimension.Tenant, Top = 1 });
        Assert.Equal("globex", Assert.Single(top).Key);
        Assert.Equal(2m, top[0].Spent);
    }

    [Fact]
    public async Task Prune_DeletesWhatIsOlderThanTheRetention()
    {
        DateTimeOffset old = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);
        DateTimeOffset recent = new(2026, 12, 1, 0, 0, 0, TimeSpan.Zero);
        await using SqliteCostLedger ledger = Open();
        await ledger.RecordAsync(Receipt("acme", old, Call(old, 1m)));
        await ledger.RecordAsync(Receipt("acme", recent, Call(recent, 1m)));

        Assert.Equal(1, await ledger.PruneAsync(new DateTimeOffset(2026, 6, 1, 0, 0, 0, TimeSpan.Zero)));
        Assert.Equal(recent, (await ledger.QueryAsync(CostLedgerQuery.All).SingleAsync()).Entry.Timestamp);
    }

    [Fact]
    public async Task SixtyFourConcurrentRecorders_LoseNothing()
    {
        DateTimeOffset at = new(2026, 12, 6, 10, 0, 0, TimeSpan.Zero);
        await using SqliteCostLedger ledger = Open();

        await Task.WhenAll(Enumerable.Range(0, 64).Select(i => Task.Run(async () =>
        {
            for (int r = 0; r < 10; r++)
            {
                await ledger.RecordAsync(Receipt($"t{i % 8}", at, Call(at, 0.001m)));
            }
        })));

        IReadOnlyList<CostLedgerAggregate> all = await ledger.AggregateAsync(new CostLedgerAggregateQuery());
        Assert.Equal(640, Assert.Single(all).Calls);
        Assert.Equal(0.64m, all[0].Spent);
        Assert.Equal(0, ledger.Dropped);
    }

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

    [Fact]
    public async Task WhatTheProvidersCacheSaved_IsSummedFromTheEntriesAsMetered()
    {
        DateTimeOffset at = new(2026, 12, 6, 10, 0, 0, TimeSpan.Zero);
        ModelPrice sonnet = PriceCatalog.BuiltIn.TryGetPrice("claude-sonnet-4-5", out ModelPrice? p) ? p : throw new InvalidOperationException();
        TokenCounts tokens = new() { Input = 100_000, CachedInput = 80_000, CacheWrite = 10_000, Output = 1_000 };
        CostReceiptEntry cached = new()
        {
            Kind = CostEntryKind.ProviderCall, ModelId = "claude-sonnet-4-5", Timestamp = at, Tokens = tokens, Price = sonnet, Cost = sonnet.CalculateCost(tokens),
        };
        await using SqliteCostLedger ledger = Open();
        await ledger.RecordAsync(Receipt("acme", at, cached));

        CostLedgerAggregate all = Assert.Single(await ledger.AggregateAsync(new CostLedgerAggregateQuery()));

        // Reads save 80,000 x ($3 - $0.30) per million; writes cost 10,000 x ($3.75 - $3) more.
        Assert.Equal(0.2085m, all.ProviderCacheSaved);
    }
}

namespace CostAware.Tests.Ledger;

// What every durable ledger (SQLite, PostgreSQL) must do the same way, run against each real database.
public abstract class DurableLedgerContract<TLedger>
    where TLedger : IBufferedCostLedger, ICostLedgerAggregates, IAsyncDisposable
{
    protected abstract TLedger Open();

    protected abstract Task<int> PruneAsync(TLedger ledger, DateTimeOffset olderThan);

    protected static CostReceipt Receipt(string tenant, DateTimeOffset at, params CostReceiptEntry[] entries)
    {
        CostReceipt receipt = new(Guid.NewGuid(), new CostScope { Tenant = tenant, Feature = "faq" }, at);
        foreach (CostReceiptEntry entry in entries)
        {
            receipt.Add(entry);
        }

        return receipt;
    }

    protected static CostReceiptEntry Call(DateTimeOffset at, decimal cost, long input = 1000, long output = 100) => new()
    {
        Kind = CostEntryKind.ProviderCall,
        ModelId = "gpt-4o",
        Provider = "openai",
        Timestamp = at,
        Tokens = new TokenCounts { Input = input, Output = output },
        Cost = new CostBreakdown { Input = cost / 2, Output = cost / 2 },
        Stage = "metering",
    };

    protected static CostReceiptEntry Hit(DateTimeOffset at, decimal avoided) => new()
    {
        Kind = CostEntryKind.CacheHit,
        ModelId = "gpt-4o",
        Timestamp = at,
        Tokens = new TokenCounts { Input = 5000, Output = 500 },
        Cost = default(CostBreakdown),
        CostAvoided = avoided,
    };

    [Fact]
    public async Task WhatIsRecorded_IsReadBackExactly_AndARepeatedReceiptIsStoredOnce()
    {
        DateTimeOffset at = new(2026, 12, 6, 10, 0, 0, TimeSpan.Zero);
        CostReceipt receipt = Receipt("acme", at, Call(at, 0.0000000123m), Hit(at, 0.0042m));
        await using (TLedger ledger = Open())
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

        // Everything recorded before disposal is stored: a new ledger on the same database reads it.
        await using TLedger reopened = Open();
        Assert.Equal(3, await reopened.QueryAsync(CostLedgerQuery.All).CountAsync());
    }

    [Fact]
    public async Task Aggregates_GroupByTenantAndDayInATimeZone_AndNeverCountCacheHitTokensAsSpent()
    {
        TimeZoneInfo paris = TimeZoneInfo.FindSystemTimeZoneById("Europe/Paris");
        DateTimeOffset lateUtc = new(2026, 12, 6, 23, 30, 0, TimeSpan.Zero); // 00:30 on the 7th in Paris
        DateTimeOffset earlyUtc = new(2026, 12, 6, 10, 0, 0, TimeSpan.Zero);
        await using TLedger ledger = Open();
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
        await using TLedger ledger = Open();
        await ledger.RecordAsync(Receipt("acme", old, Call(old, 1m)));
        await ledger.RecordAsync(Receipt("acme", recent, Call(recent, 1m)));

        Assert.Equal(1, await PruneAsync(ledger, new DateTimeOffset(2026, 6, 1, 0, 0, 0, TimeSpan.Zero)));
        Assert.Equal(recent, (await ledger.QueryAsync(CostLedgerQuery.All).SingleAsync()).Entry.Timestamp);
    }

    [Fact]
    public async Task SixtyFourConcurrentRecorders_LoseNothing()
    {
        DateTimeOffset at = new(2026, 12, 6, 10, 0, 0, TimeSpan.Zero);
        await using TLedger ledger = Open();

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
    public async Task WhatTheProvidersCacheSaved_IsSummedFromTheEntriesAsMetered()
    {
        DateTimeOffset at = new(2026, 12, 6, 10, 0, 0, TimeSpan.Zero);
        ModelPrice sonnet = PriceCatalog.BuiltIn.TryGetPrice("claude-sonnet-4-5", out ModelPrice? p) ? p : throw new InvalidOperationException();
        TokenCounts tokens = new() { Input = 100_000, CachedInput = 80_000, CacheWrite = 10_000, Output = 1_000 };
        CostReceiptEntry cached = new()
        {
            Kind = CostEntryKind.ProviderCall, ModelId = "claude-sonnet-4-5", Timestamp = at, Tokens = tokens, Price = sonnet, Cost = sonnet.CalculateCost(tokens),
        };
        await using TLedger ledger = Open();
        await ledger.RecordAsync(Receipt("acme", at, cached));

        CostLedgerAggregate all = Assert.Single(await ledger.AggregateAsync(new CostLedgerAggregateQuery()));

        // Reads save 80,000 x ($3 - $0.30) per million; writes cost 10,000 x ($3.75 - $3) more.
        Assert.Equal(0.2085m, all.ProviderCacheSaved);
    }

    [Fact]
    public async Task TheDatabaseAggregates_EqualTheInMemoryDefinition_ForEveryGroupingAndBucket()
    {
        TimeZoneInfo newYork = TimeZoneInfo.FindSystemTimeZoneById("America/New_York");
        DateTimeOffset start = new(2026, 3, 7, 0, 0, 0, TimeSpan.Zero); // across the clocks' change in New York
        InMemoryCostLedger memory = new();
        await using TLedger ledger = Open();
        Random random = new(7);
        for (int i = 0; i < 200; i++)
        {
            DateTimeOffset at = start.AddMinutes(random.Next(0, 4 * 24 * 60));
            CostReceipt receipt = new(Guid.NewGuid(), new CostScope { Tenant = $"t{random.Next(3)}", Agent = random.Next(2) == 0 ? null : "triage", Feature = "faq" }, at);
            receipt.Add(random.Next(4) == 0 ? Hit(at, random.Next(1, 999) / 10_000m) : Call(at, random.Next(1, 99_999) / 1_000_000m, random.Next(10, 5000), random.Next(1, 900)));
            await ledger.RecordAsync(receipt);
            await memory.RecordAsync(receipt);
        }

        foreach (CostLedgerBucket bucket in Enum.GetValues<CostLedgerBucket>())
        {
            foreach (CostScopeDimension? dimension in (CostScopeDimension?[])[null, CostScopeDimension.Tenant, CostScopeDimension.Agent])
            {
                CostLedgerAggregateQuery query = new() { GroupBy = dimension, ByModel = true, Bucket = bucket, TimeZone = newYork };
                Assert.Equal(await memory.AggregateAsync(query), await ledger.AggregateAsync(query));
            }
        }
    }
}

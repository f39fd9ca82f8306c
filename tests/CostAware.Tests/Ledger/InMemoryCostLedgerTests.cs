using System.Text;
using System.Text.Json;

namespace CostAware.Tests.Ledger;

public class InMemoryCostLedgerTests
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 23, 10, 0, 0, TimeSpan.Zero);

    private static CostReceipt Receipt(string tenant, string model, decimal cost, DateTimeOffset at, string? user = null)
    {
        CostReceipt receipt = new(new Guid("0192f5a0-0000-7000-8000-000000000001"), new CostScope { Tenant = tenant, User = user }, at);
        receipt.Add(new CostReceiptEntry
        {
            Kind = CostEntryKind.ProviderCall,
            ModelId = model,
            Provider = "openai",
            Tokens = new TokenCounts { Input = 1_000, CachedInput = 200, Output = 50, Reasoning = 10 },
            Cost = new CostBreakdown { Input = cost },
            Timestamp = at,
            Stage = "metering",
        });
        return receipt;
    }

    [Fact]
    public async Task QueryAsync_ByScopeModelAndTime()
    {
        InMemoryCostLedger ledger = new();
        await ledger.RecordAsync(Receipt("acme", "gpt-4o", 0.01m, T0));
        await ledger.RecordAsync(Receipt("acme", "o3", 0.02m, T0.AddHours(1)));
        await ledger.RecordAsync(Receipt("globex", "gpt-4o", 0.04m, T0.AddHours(2)));

        Assert.Equal(0.03m, (await ledger.QueryAsync(new CostLedgerQuery { Scope = new CostScope { Tenant = "acme" } }).ToListAsync()).Sum(r => r.Entry.Cost!.Value.Total));
        Assert.Equal(2, (await ledger.QueryAsync(new CostLedgerQuery { ModelId = "gpt-4o" }).ToListAsync()).Count);
        Assert.Single(await ledger.QueryAsync(new CostLedgerQuery { From = T0.AddHours(1), To = T0.AddHours(2) }).ToListAsync());
    }

    [Fact]
    public async Task RecordAsync_OverCapacity_DropsOldestAndCounts()
    {
        InMemoryCostLedger ledger = new(capacity: 2);
        for (int i = 0; i < 5; i++)
        {
            await ledger.RecordAsync(Receipt("t", "m" + i, 0.01m, T0.AddMinutes(i)));
        }

        Assert.Equal(2, ledger.Count);
        Assert.Equal(3, ledger.DroppedCount);
        Assert.Equal(["m3", "m4"], (await ledger.QueryAsync(CostLedgerQuery.All).ToListAsync()).Select(r => r.Entry.ModelId));
    }

    [Fact]
    public async Task RecordAsync_64ConcurrentWriters_NothingLost()
    {
        InMemoryCostLedger ledger = new();
        await Parallel.ForAsync(0, 64, async (i, ct) => await ledger.RecordAsync(Receipt("t" + (i % 4), "gpt-4o", 0.001m, T0), ct));

        Assert.Equal(64, ledger.Count);
        Assert.Equal(0.064m, (await ledger.QueryAsync(CostLedgerQuery.All).ToListAsync()).Sum(r => r.Entry.Cost!.Value.Total));
    }

    [Fact]
    public async Task WriteJsonLinesAsync_OneObjectPerRowWithExactMoney()
    {
        InMemoryCostLedger ledger = new();
        await ledger.RecordAsync(Receipt("acme", "gpt-4o", 0.0000125m, T0));
        using MemoryStream stream = new();

        long rows = await ledger.WriteJsonLinesAsync(stream);

        Assert.Equal(1, rows);
        string line = Encoding.UTF8.GetString(stream.ToArray());
        Assert.EndsWith("\n", line, StringComparison.Ordinal);
        using JsonDocument doc = JsonDocument.Parse(line);
        JsonElement row = doc.RootElement;
        Assert.Equal("2026-11-23T10:00:00.0000000Z", row.GetProperty("timestamp").GetString());
        Assert.Equal("acme", row.GetProperty("tenant").GetString());
        Assert.Equal(JsonValueKind.Null, row.GetProperty("user").ValueKind);
        Assert.Equal(0.0000125m, row.GetProperty("cost_usd").GetDecimal());
        Assert.Equal(200, row.GetProperty("cached_input_tokens").GetInt64());
        Assert.False(row.GetProperty("estimated").GetBoolean());
        Assert.Equal("provider_call", row.GetProperty("kind").GetString());
    }

    [Fact]
    public async Task WriteCsvAsync_HeaderRowsQuotingAndFormulaGuard()
    {
        InMemoryCostLedger ledger = new();
        await ledger.RecordAsync(Receipt("acme, inc.", "gpt-4o", 0.5m, T0, user: "=HYPERLINK(\"x\")"));
        using MemoryStream stream = new();

        long rows = await ledger.WriteCsvAsync(stream, new CostLedgerQuery { ModelId = "gpt-4o" });

        string[] lines = Encoding.UTF8.GetString(stream.ToArray()).Split("\r\n");
        Assert.Equal(1, rows);
        Assert.Equal(
            "timestamp,receipt_id,kind,provider,model,tenant,user,api_key,agent,workflow,feature,input_tokens,cached_input_tokens,cache_write_tokens,cache_write_1h_tokens,output_tokens,reasoning_tokens,cost_usd,cost_avoided_usd,estimated,batch,stage",
            lines[0]);
        Assert.Equal(
            "2026-11-23T10:00:00.0000000Z,0192f5a0-0000-7000-8000-000000000001,provider_call,openai,gpt-4o,\"acme, inc.\",\"'=HYPERLINK(\"\"x\"\")\",,,,,1000,200,0,0,50,10,0.5,,false,false,metering",
            lines[1]);
        Assert.Equal(string.Empty, lines[2]);
    }
}

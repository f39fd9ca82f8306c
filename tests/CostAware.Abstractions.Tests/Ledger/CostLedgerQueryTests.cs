namespace CostAware.Tests.Ledger;

public class CostLedgerQueryTests
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 1, 0, 0, 0, TimeSpan.Zero);

    private static CostLedgerRecord Row(string model, string tenant, DateTimeOffset at) =>
        new(Guid.NewGuid(), new CostScope { Tenant = tenant }, new CostReceiptEntry { Kind = CostEntryKind.ProviderCall, ModelId = model, Provider = "openai", Timestamp = at });

    [Fact]
    public void Matches_EachCriterion()
    {
        CostLedgerRecord row = Row("gpt-4o", "acme", T0);

        Assert.True(CostLedgerQuery.All.Matches(row));
        Assert.True(new CostLedgerQuery { ModelId = "GPT-4O", Provider = "OpenAI" }.Matches(row));
        Assert.False(new CostLedgerQuery { ModelId = "gpt-4o-mini" }.Matches(row));
        Assert.True(new CostLedgerQuery { Scope = new CostScope { Tenant = "acme" } }.Matches(row));
        Assert.False(new CostLedgerQuery { Scope = new CostScope { Tenant = "globex" } }.Matches(row));
        Assert.True(new CostLedgerQuery { From = T0, To = T0.AddTicks(1) }.Matches(row));
        Assert.False(new CostLedgerQuery { To = T0 }.Matches(row));
        Assert.False(new CostLedgerQuery { Kind = CostEntryKind.CacheHit }.Matches(row));
    }
}

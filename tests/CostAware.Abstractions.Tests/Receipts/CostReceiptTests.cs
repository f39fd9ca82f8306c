namespace CostAware.Tests.Receipts;

public class CostReceiptTests
{
    private static readonly DateTimeOffset Now = new(2026, 11, 23, 12, 0, 0, TimeSpan.Zero);

    [Fact]
    public void Totals_CacheHitAvoidsAndSpendsNothing_CascadeCallsAddUp()
    {
        CostReceipt receipt = new(Guid.NewGuid(), new CostScope { Tenant = "acme" }, Now);
        receipt.Add(new CostReceiptEntry { Kind = CostEntryKind.ProviderCall, Tokens = new TokenCounts { Input = 100, Output = 10 }, Cost = new CostBreakdown { Input = 0.01m, Output = 0.02m } });
        receipt.Add(new CostReceiptEntry { Kind = CostEntryKind.ProviderCall, Tokens = new TokenCounts { Input = 100, Output = 20 }, Cost = new CostBreakdown { Input = 0.1m, Output = 0.4m } });
        receipt.Add(new CostReceiptEntry { Kind = CostEntryKind.CacheHit, Tokens = new TokenCounts { Input = 100, Output = 20 }, Cost = default(CostBreakdown), CostAvoided = 0.5m });

        Assert.Equal(0.53m, receipt.Spent);
        Assert.Equal(0.5m, receipt.Avoided);
        Assert.Equal(new TokenCounts { Input = 200, Output = 30 }, receipt.Tokens);
        Assert.True(receipt.IsFullyPriced);
        Assert.False(receipt.HasEstimates);
        Assert.Equal(3, receipt.Entries.Length);
    }

    [Fact]
    public void IsFullyPriced_UnpricedEntry_False()
    {
        CostReceipt receipt = new(Guid.NewGuid(), CostScope.None, Now);
        receipt.Add(new CostReceiptEntry { Kind = CostEntryKind.ProviderCall, Tokens = new TokenCounts { Input = 5 }, IsEstimated = true });

        Assert.False(receipt.IsFullyPriced);
        Assert.True(receipt.HasEstimates);
        Assert.Equal(0m, receipt.Spent);
    }

    [Fact]
    public async Task Add_Concurrently_KeepsEveryEntry()
    {
        CostReceipt receipt = new(Guid.NewGuid(), CostScope.None, Now);
        await Parallel.ForAsync(0, 64, (i, _) =>
        {
            receipt.Add(new CostReceiptEntry { Kind = CostEntryKind.ProviderCall, Cost = new CostBreakdown { Input = 0.01m } });
            return ValueTask.CompletedTask;
        });

        Assert.Equal(64, receipt.Entries.Length);
        Assert.Equal(0.64m, receipt.Spent);
    }
}

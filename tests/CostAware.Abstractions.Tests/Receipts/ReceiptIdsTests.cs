namespace CostAware.Abstractions.Tests.Receipts;

public class ReceiptIdsTests
{
    [Fact]
    public void Next_Version7UniqueAndTimeOrdered()
    {
        DateTimeOffset t0 = new(2026, 11, 23, 12, 0, 0, TimeSpan.Zero);
        HashSet<Guid> seen = [];
        Guid previous = ReceiptIds.Next(t0);
        for (int i = 1; i < 10_000; i++)
        {
            Guid id = ReceiptIds.Next(t0.AddMilliseconds(i));
            Assert.True(seen.Add(id));
            Assert.Equal(7, id.Version);
            Assert.Equal(0b1000, id.Variant & 0b1100);
            Assert.True(string.CompareOrdinal(id.ToString(), previous.ToString()) > 0);
            previous = id;
        }
    }

    [Fact]
    public async Task Next_ConcurrentCallersSameMillisecond_NoDuplicates()
    {
        DateTimeOffset t0 = new(2026, 11, 23, 12, 0, 0, TimeSpan.Zero);
        Guid[][] ids = await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => Task.Run(() => Enumerable.Range(0, 5_000).Select(_ => ReceiptIds.Next(t0)).ToArray())));

        Assert.Equal(40_000, ids.SelectMany(x => x).Distinct().Count());
    }
}

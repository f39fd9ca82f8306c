using System.Globalization;
using CostAware;

// Usage: worker <ledger-file> <count>   records <count> receipts (receipt n has the id n, as a Guid), flushing after
//                                       every 10 and printing "flushed <n>" once the first n are on disk; the test
//                                       kills it part-way.
if (args.Length != 2)
{
    Console.Error.WriteLine("usage: worker <ledger-file> <count>");
    return 2;
}

int count = int.Parse(args[1], CultureInfo.InvariantCulture);
await using SqliteCostLedger ledger = new(new SqliteCostLedgerOptions { Path = args[0] });
DateTimeOffset at = new(2026, 12, 6, 10, 0, 0, TimeSpan.Zero);
for (int n = 0; n < count; n++)
{
    CostReceipt receipt = new(new Guid(n, 0, 0, new byte[8]), new CostScope { Tenant = "acme" }, at);
    receipt.Add(new CostReceiptEntry
    {
        Kind = CostEntryKind.ProviderCall,
        ModelId = "gpt-4o",
        Timestamp = at,
        Tokens = new TokenCounts { Input = 1000, Output = 100 },
        Cost = new CostBreakdown { Input = 0.0025m, Output = 0.001m },
    });
    await ledger.RecordAsync(receipt);
    if ((n + 1) % 10 == 0)
    {
        await ledger.FlushAsync();
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"flushed {n + 1}"));
    }
}

return 0;

using System.Globalization;
using CostAware;
using CostAware.Samples;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;

// CostAware quick start: every call metered and priced, a receipt per answer, spend by model and tenant.
int count = args.Length > 0 && int.TryParse(args[0], CultureInfo.InvariantCulture, out int n) ? n : 6;
(IChatClient backend, string description, IReadOnlyList<string> questions) = SampleBackend.Create();
bool replay = backend is ReplayChatClient;
Console.WriteLine($"Backend: {description}");
Console.WriteLine();

ServiceCollection services = new();
services.AddCostAware();                                   // price catalog, ledger, token estimator, metrics
services.AddChatClient(backend).UseTokenMetering();        // meter every real provider call
await using ServiceProvider provider = services.BuildServiceProvider();
IChatClient chat = provider.GetRequiredService<IChatClient>();

string[] tenants = ["acme", "globex"];
for (int i = 0; i < count && i < questions.Count; i++)
{
    string question = questions[i];
    ChatOptions options = new ChatOptions
    {
        ModelId = replay ? (i % 2 == 0 ? SampleBackend.CheapModel : SampleBackend.StrongModel) : null,
    }.WithCostScope(new CostScope { Tenant = tenants[i % 2], Feature = "homework-help" });

    ChatResponse response = await chat.GetResponseAsync(question, options);
    CostReceipt receipt = response.GetCostReceipt()!;
    CostReceiptEntry call = receipt.Entries[0];

    Console.WriteLine($"Q{i + 1} [{receipt.Scope.Tenant}] {Shorten(question, 90)}");
    Console.WriteLine($"   {call.ModelId}: {Shorten(response.Text.ReplaceLineEndings(" "), 90)}");
    Console.WriteLine($"   tokens in {call.Tokens.Input:N0} (cached {call.Tokens.CachedInput:N0}), out {call.Tokens.Output:N0} (reasoning {call.Tokens.Reasoning:N0}){(call.IsEstimated ? ", estimated: the backend reported no usage" : string.Empty)}");
    Console.WriteLine($"   cost {Money(call.Cost?.Total)} at {call.Price?.ModelId ?? "?"} list prices ({call.Price?.EffectiveDate:yyyy-MM-dd}); receipt {receipt.Id:N}: spent {Money(receipt.Spent)}");
    Console.WriteLine();
}

Console.WriteLine("Spend by model and tenant (from the cost ledger):");
Console.WriteLine($"  {"model",-22} {"tenant",-8} {"calls",5} {"tokens in",10} {"tokens out",10} {"USD",12}");
List<CostLedgerRecord> rows = await provider.GetRequiredService<ICostLedger>().QueryAsync(CostLedgerQuery.All).ToListAsync();
foreach (var group in rows.GroupBy(r => (r.Entry.ModelId, r.Scope.Tenant)).OrderBy(g => g.Key.ModelId).ThenBy(g => g.Key.Tenant))
{
    Console.WriteLine($"  {group.Key.ModelId,-22} {group.Key.Tenant,-8} {group.Count(),5} {group.Sum(r => r.Entry.Tokens.Input),10:N0} {group.Sum(r => r.Entry.Tokens.Output),10:N0} {Money(group.Sum(r => r.Entry.Cost?.Total ?? 0m)),12}");
}

Console.WriteLine($"  {"total",-22} {string.Empty,-8} {rows.Count,5} {rows.Sum(r => r.Entry.Tokens.Input),10:N0} {rows.Sum(r => r.Entry.Tokens.Output),10:N0} {Money(rows.Sum(r => r.Entry.Cost?.Total ?? 0m)),12}");

static string Shorten(string text, int max) => text.Length <= max ? text : text[..(max - 1)] + "…";

static string Money(decimal? usd) => usd is { } v ? "$" + v.ToString("0.000000", CultureInfo.InvariantCulture) : "unpriced";

using System.Globalization;
using CostAware;
using CostAware.Samples;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

// CostAware prompt cache: a repeated question is answered from the cache, the receipt says what that saved, and a
// tenant never receives another tenant's answer. Where the cache lives is configuration: with
// CostAware__Redis__Configuration=localhost:6379 (or the same key in appsettings.json) every node shares it in Redis.
IConfiguration configuration = new ConfigurationBuilder()
    .SetBasePath(AppContext.BaseDirectory)
    .AddJsonFile("appsettings.json")
    .AddEnvironmentVariables()
    .Build();

(IChatClient backend, string description, IReadOnlyList<string> questions) = SampleBackend.Create();
string? redis = configuration["CostAware:Redis:Configuration"];
Console.WriteLine($"Backend: {description}");
Console.WriteLine($"Cache:   memory{(string.IsNullOrWhiteSpace(redis) ? " only (set CostAware__Redis__Configuration to share it through Redis)" : $" + Redis at {redis}")}");
Console.WriteLine();

ServiceCollection services = new();
services.AddCostAware(configuration.GetSection("CostAware"))                  // prices, ledger, metrics, HybridCache
        .AddCostAwareRedis(configuration.GetSection("CostAware:Redis"));       // L2 in Redis only when configured
services.AddChatClient(backend)
        .UsePromptCache()                                                      // answer repeats from the cache
        .UseTokenMetering();                                                   // meter what still reaches the provider
await using ServiceProvider provider = services.BuildServiceProvider();
IChatClient chat = provider.GetRequiredService<IChatClient>();

// Each question asked twice by acme, then once by globex: globex pays for its own answer.
(string Tenant, int Question)[] calls = [("acme", 0), ("acme", 0), ("acme", 1), ("acme", 1), ("globex", 0), ("globex", 0)];
foreach ((string tenant, int q) in calls)
{
    ChatOptions options = new ChatOptions { ModelId = SampleBackend.StrongModel }.WithCostScope(new CostScope { Tenant = tenant, Feature = "homework-help" });
    ChatResponse response = await chat.GetResponseAsync(questions[q], options);
    CostReceipt receipt = response.GetCostReceipt()!;
    bool hit = receipt.Entries[0].Kind == CostEntryKind.CacheHit;
    Console.WriteLine($"[{tenant,-6}] Q{q + 1} {Shorten(questions[q], 70)}");
    Console.WriteLine($"         {(hit ? "cache hit   " : "provider    ")} spent {Money(receipt.Spent)}, avoided {Money(receipt.Avoided)}{(receipt.HasEstimates ? " (tokens estimated: the replay reports no usage)" : string.Empty)}");
}

// A public FAQ answer may be shared by every tenant, but only in a partition the configuration lists as shared.
CacheControl faq = new() { SharedPartition = "public-faq" };
foreach (string tenant in new[] { "acme", "globex" })
{
    ChatOptions options = new ChatOptions { ModelId = SampleBackend.StrongModel }.WithCostScope(new CostScope { Tenant = tenant }).WithCacheControl(faq);
    CostReceipt receipt = (await chat.GetResponseAsync(questions[2], options)).GetCostReceipt()!;
    Console.WriteLine($"[{tenant,-6}] Q3 (public-faq partition) {(receipt.Entries[0].Kind == CostEntryKind.CacheHit ? "cache hit" : "provider")}, avoided {Money(receipt.Avoided)}");
}

List<CostLedgerRecord> rows = await provider.GetRequiredService<ICostLedger>().QueryAsync(CostLedgerQuery.All).ToListAsync();
Console.WriteLine();
Console.WriteLine($"Ledger: {rows.Count(r => r.Entry.Kind == CostEntryKind.ProviderCall)} provider calls, {rows.Count(r => r.Entry.Kind == CostEntryKind.CacheHit)} cache hits;" +
    $" spent {Money(rows.Sum(r => r.Entry.Cost?.Total ?? 0m))}, avoided {Money(rows.Sum(r => r.Entry.CostAvoided ?? 0m))}.");

static string Shorten(string text, int max) => text.Length <= max ? text : text[..(max - 1)] + "…";

static string Money(decimal? usd) => usd is { } v ? "$" + v.ToString("0.000000", CultureInfo.InvariantCulture) : "unpriced";

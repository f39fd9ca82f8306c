using System.Globalization;
using System.Text.RegularExpressions;
using CostAware;
using CostAware.Samples;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

// CostAware semantic cache: a reworded question is answered from the cache, a question that differs in a number is
// not (the numbers guard), a tenant never receives another tenant's answer, and the receipt says what each call cost
// and saved. Offline: the MiniLM-L6 sentence embedder carried by CostAware.Onnx.MiniLM (written once to a local folder
// on first run), an in-process index, the replayed GSM8K answers. `--lexical` embeds with the built-in lexical embedder
// instead; CostAware__SemanticCache__MaxErrorRate=0.01 turns on the error-bounded mode;
// CostAware__Redis__Configuration=localhost:6379 shares the entries between processes.
IConfiguration configuration = new ConfigurationBuilder()
    .SetBasePath(AppContext.BaseDirectory)
    .AddJsonFile("appsettings.json")
    .AddEnvironmentVariables()
    .Build();

(IChatClient backend, string description, IReadOnlyList<string> questions) = SampleBackend.Create();
Console.WriteLine($"Backend:  {description}");

ServiceCollection services = new();
if (!args.Contains("--lexical"))
{
    services.AddCostAwareMiniLMEmbeddingGenerator();   // the semantic cache embeds with the registered generator
}

services.AddCostAware(configuration.GetSection("CostAware"))
        .AddCostAwareSemanticCache(configuration.GetSection("CostAware:SemanticCache"))
        .AddCostAwareRedis(configuration.GetSection("CostAware:Redis"));
services.AddChatClient(backend)
        .UseSemanticCache()          // near matches, within the tenant's partition
        .UseTokenMetering();         // meter what still reaches the provider
await using ServiceProvider provider = services.BuildServiceProvider();
IChatClient chat = provider.GetRequiredService<IChatClient>();
SemanticCacheChatClient cache = chat.GetService<SemanticCacheChatClient>()!;

string question = questions[0];
string reworded = "Please work this out: " + question.ToLowerInvariant().TrimEnd('?', '.');
string otherNumber = Regex.Replace(question, @"\d+", m => (int.Parse(m.Value, CultureInfo.InvariantCulture) + 1).ToString(CultureInfo.InvariantCulture), RegexOptions.None, TimeSpan.FromSeconds(1));

(string Label, string Tenant, string Text)[] calls =
[
    ("original", "acme", question),
    ("reworded", "acme", reworded),
    ("one number changed", "acme", otherNumber),
    ("same text, other tenant", "globex", question),
];

Console.WriteLine($"Question: {Shorten(question, 100)}");
Console.WriteLine();
foreach ((string label, string tenant, string text) in calls)
{
    ChatOptions options = new ChatOptions { ModelId = SampleBackend.StrongModel }.WithCostScope(new CostScope { Tenant = tenant, Feature = "homework-help" });
    ChatResponse response = await chat.GetResponseAsync(text, options);
    CostReceipt receipt = response.GetCostReceipt()!;
    string outcome = response.AdditionalProperties?.TryGetValue(CostAwareProperties.SemanticSimilarity, out object? similarity) == true
        ? $"{response.AdditionalProperties[CostAwareProperties.CacheHit]} hit (similarity {(float)similarity!:F3})"
        : "provider";
    Console.WriteLine($"[{tenant,-6}] {label,-24} {outcome,-28} spent {Money(receipt.Spent)}, avoided {Money(receipt.Avoided)}");
}

// The replica can be saved and restored, e.g. across a deployment.
using MemoryStream snapshot = new();
int saved = await cache.SaveSnapshotAsync(snapshot);
Console.WriteLine();
Console.WriteLine($"Snapshot: {saved} entries, {snapshot.Length:N0} bytes; restored {await cache.RestoreSnapshotAsync(new MemoryStream(snapshot.ToArray()))}.");

static string Shorten(string text, int max) => text.Length <= max ? text : text[..(max - 1)] + "…";

static string Money(decimal? usd) => usd is { } v ? "$" + v.ToString("0.000000", CultureInfo.InvariantCulture) : "unpriced";

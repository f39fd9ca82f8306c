using BenchmarkDotNet.Attributes;
using Microsoft.Extensions.AI;

namespace CostAware.Benchmarks;

// The per-call overhead of the metering stage against the bare provider client (baseline) and against
// Microsoft.Extensions.AI's own OpenTelemetryChatClient, on a provider stand-in that answers in-process so that only
// the middleware is measured. Nobody listens to metrics in any variant, as in an app without an exporter.
[MemoryDiagnoser]
[SimpleJob(launchCount: 1, warmupCount: 3, iterationCount: 12)]
public class MeteringBenchmark
{
    private static readonly ChatMessage[] Messages = [new(ChatRole.User, "Janet’s ducks lay 16 eggs per day. How much does she make?")];
    internal static readonly ChatResponseUpdate[] Updates =
    [
        new(ChatRole.Assistant, "She makes ") { ModelId = "gpt-4o-2024-08-06" },
        new(null, "$18 every day."),
        new() { Contents = [new UsageContent(new UsageDetails { InputTokenCount = 1_157, CachedInputTokenCount = 512, OutputTokenCount = 213 })] },
    ];

    private readonly ChatOptions _options = new ChatOptions { ModelId = "gpt-4o" }.WithCostScope(new CostScope { Tenant = "acme", Feature = "faq" });
    private IChatClient _bare = null!;
    private IChatClient _openTelemetry = null!;
    private IChatClient _metered = null!;
    private IChatClient _meteredWithLedger = null!;

    [GlobalSetup]
    public void Setup()
    {
        _bare = new InProcessProvider();
        _openTelemetry = _bare.AsBuilder().UseOpenTelemetry().Build();
        _metered = _bare.AsBuilder().UseTokenMetering().Build();
        InMemoryCostLedger ledger = new(capacity: 4_096);
        _meteredWithLedger = new TokenMeteringChatClient(_bare, ledger: ledger);
        _ = PriceCatalog.BuiltIn.Models.Count;
    }

    [Benchmark(Baseline = true)]
    public Task<ChatResponse> Bare() => _bare.GetResponseAsync(Messages, _options);

    [Benchmark]
    public Task<ChatResponse> OpenTelemetryChatClient() => _openTelemetry.GetResponseAsync(Messages, _options);

    [Benchmark]
    public Task<ChatResponse> TokenMetering() => _metered.GetResponseAsync(Messages, _options);

    [Benchmark]
    public Task<ChatResponse> TokenMeteringWithLedger() => _meteredWithLedger.GetResponseAsync(Messages, _options);

    [Benchmark]
    public Task<int> BareStreaming() => DrainAsync(_bare);

    [Benchmark]
    public Task<int> TokenMeteringStreaming() => DrainAsync(_metered);

    private async Task<int> DrainAsync(IChatClient client)
    {
        int n = 0;
        await foreach (ChatResponseUpdate update in client.GetStreamingResponseAsync(Messages, _options))
        {
            n += update.Contents.Count;
        }

        return n;
    }
}

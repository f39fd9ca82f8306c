#pragma warning disable CAEXP001 // The provider cache hints are experimental.
using BenchmarkDotNet.Attributes;
using Microsoft.Extensions.AI;

namespace CostAware.Benchmarks;

// What placing provider cache breakpoints adds to a call of an agent loop (a 2,000-token system prompt and 12 steps of
// context, about 9,000 tokens), against the bare in-process provider (baseline) and against the metering stage alone.
// "Resent" sends the same message objects every call, as an agent loop does (each message is digested once);
// "fresh" sends new message objects every call, so every message is tokenized and hashed again.
[MemoryDiagnoser]
[SimpleJob(launchCount: 1, warmupCount: 3, iterationCount: 12)]
public class ProviderCachingBenchmark
{
    private readonly ChatOptions _options = new ChatOptions { ModelId = "claude-sonnet-4-5" }.WithCostScope(new CostScope { Tenant = "acme" });
    private List<ChatMessage> _conversation = null!;
    private IChatClient _bare = null!;
    private IChatClient _metered = null!;
    private IChatClient _placed = null!;

    [GlobalSetup]
    public async Task SetupAsync()
    {
        static string Text(string seed, int words) => string.Join(' ', Enumerable.Range(0, words).Select(i => seed + (i % 50)));
        _conversation = [new(ChatRole.System, Text("rule", 2000)), new(ChatRole.User, Text("task", 800))];
        for (int step = 0; step < 12; step++)
        {
            _conversation.Add(new ChatMessage(ChatRole.Assistant, Text($"step{step}-", 200)));
            _conversation.Add(new ChatMessage(ChatRole.User, Text($"tool{step}-", 300)));
        }

        _bare = new InProcessProvider();
        _metered = _bare.AsBuilder().UseTokenMetering().Build();
        _placed = _bare.AsBuilder().UseAnthropicPromptCaching().UseTokenMetering().Build();

        // The statistics have seen the loop, as they have after its first turns.
        _ = await _placed.GetResponseAsync(_conversation[..^2], _options);
    }

    [Benchmark(Baseline = true)]
    public Task<ChatResponse> Bare() => _bare.GetResponseAsync(_conversation, _options);

    [Benchmark]
    public Task<ChatResponse> Metering() => _metered.GetResponseAsync(_conversation, _options);

    [Benchmark]
    public Task<ChatResponse> PlacedAndMeteringResent() => _placed.GetResponseAsync(_conversation, _options);

    [Benchmark]
    public Task<ChatResponse> PlacedAndMeteringFresh() =>
        _placed.GetResponseAsync([.. _conversation.Select(static m => new ChatMessage(m.Role, m.Text))], _options);
}

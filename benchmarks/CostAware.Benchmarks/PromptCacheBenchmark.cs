using System.Text.Json;
using BenchmarkDotNet.Attributes;
using CostAware.Tests.TestUtilities;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Caching.Distributed;
using Microsoft.Extensions.Caching.Memory;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace CostAware.Benchmarks;

// The exact prompt cache on a realistic few-shot conversation (GSM8K training questions and worked answers as
// user/assistant turns, then the test question) of about 2 KB and 8 KB of text. Baseline: Microsoft.Extensions.AI's
// DistributedCachingChatClient over a MemoryDistributedCache, measured in the same run. Hits are memory (L1) hits.
[MemoryDiagnoser]
[SimpleJob(launchCount: 1, warmupCount: 3, iterationCount: 12)]
public class PromptCacheBenchmark
{
    private readonly ChatOptions _options = new ChatOptions { ModelId = "gpt-4o", Temperature = 0f, MaxOutputTokens = 512 }
        .WithCostScope(new CostScope { Tenant = "acme", Feature = "math" });
    private readonly ChatOptions _noCache = new ChatOptions { ModelId = "gpt-4o", Temperature = 0f, MaxOutputTokens = 512 }
        .WithCostScope(new CostScope { Tenant = "acme", Feature = "math" })
        .WithCacheControl(CacheControl.NoCache);

    private List<ChatMessage> _conversation = null!;
    private ServiceProvider _services = null!;
    private IChatClient _bare = null!;
    private IChatClient _meaiCache = null!;
    private IChatClient _promptCache = null!;
    private PromptCacheChatClient _xxHash = null!;
    private PromptCacheChatClient _sha256 = null!;

    [Params(2, 8)]
    public int ConversationKb { get; set; }

    [GlobalSetup]
    public async Task Setup()
    {
        _conversation = Conversation(ConversationKb * 1024);
        _bare = new InProcessProvider();
        _meaiCache = new DistributedCachingChatClient(_bare, new MemoryDistributedCache(Options.Create(new MemoryDistributedCacheOptions())));
        _services = new ServiceCollection().AddCostAware().BuildServiceProvider();
        _promptCache = _bare.AsBuilder().UsePromptCache().Build(_services);
        // The key as the public API builds it (the tenant comes from the options' scope).
        _xxHash = _bare.AsBuilder().UsePromptCache(configure: o => o.KeyAlgorithm = PromptCacheKeyAlgorithm.XxHash128).Build(_services).GetService<PromptCacheChatClient>()!;
        _sha256 = _bare.AsBuilder().UsePromptCache(configure: o => o.KeyAlgorithm = PromptCacheKeyAlgorithm.Sha256).Build(_services).GetService<PromptCacheChatClient>()!;

        // Warm both caches: every measured hit below is a hit.
        _ = await _meaiCache.GetResponseAsync(_conversation, _options);
        _ = await _promptCache.GetResponseAsync(_conversation, _options);
        if ((await _promptCache.GetResponseAsync(_conversation, _options)).GetCostReceipt()!.Entries[0].Kind != CostEntryKind.CacheHit)
        {
            throw new InvalidOperationException("The prompt cache did not hit after warm-up.");
        }
    }

    [GlobalCleanup]
    public void Cleanup() => _services.Dispose();

    [Benchmark(Baseline = true)]
    public Task<ChatResponse> MeaiDistributedCachingHit() => _meaiCache.GetResponseAsync(_conversation, _options);

    [Benchmark]
    public Task<ChatResponse> PromptCacheHit() => _promptCache.GetResponseAsync(_conversation, _options);

    [Benchmark]
    public string? KeyXxHash128() => _xxHash.GetCacheKey(_conversation, _options);

    [Benchmark]
    public string? KeySha256() => _sha256.GetCacheKey(_conversation, _options);

    // A miss that stores: the key, the factory, the entry and the memory write (the provider answers in-process).
    [Benchmark]
    public Task<ChatResponse> PromptCacheMissAndStore() => _promptCache.GetResponseAsync(_conversation, _noCache);

    [Benchmark]
    public Task<ChatResponse> BareProvider() => _bare.GetResponseAsync(_conversation, _options);

    // GSM8K few-shot turns until the text reaches the target size; the data is public and read from ../shared/data.
    private static List<ChatMessage> Conversation(int bytes)
    {
        List<ChatMessage> messages = [new(ChatRole.System, "You are a careful math tutor. Answer with the final number after ####.")];
        int size = messages[0].Text.Length;
        foreach (string line in File.ReadLines(TestData.PathOf("cascade", "gsm8k_fewshot8_train.jsonl")).Concat(File.ReadLines(TestData.PathOf("cascade", "gsm8k_test.jsonl")).Skip(8)))
        {
            using JsonDocument doc = JsonDocument.Parse(line);
            string question = doc.RootElement.GetProperty("question").GetString()!;
            string answer = doc.RootElement.GetProperty("answer").GetString()!;
            if (size + question.Length + answer.Length > bytes)
            {
                break;
            }

            messages.Add(new ChatMessage(ChatRole.User, question));
            messages.Add(new ChatMessage(ChatRole.Assistant, answer));
            size += question.Length + answer.Length;
        }

        messages.Add(new ChatMessage(ChatRole.User, "Janet’s ducks lay 16 eggs per day. She eats three for breakfast every morning and bakes muffins for her friends every day with four. She sells the remainder at the farmers' market daily for $2 per fresh duck egg. How much in dollars does she make every day at the farmers' market?"));
        return messages;
    }
}

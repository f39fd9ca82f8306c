#pragma warning disable CAEXP001 // The provider cache hints are experimental.
using CostAware.Tests.TestUtilities;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;

namespace CostAware.Tests.ProviderCaching;

public class ProviderPromptCachingChatClientTests
{
    private const string Model = "claude-sonnet-4-5";
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 12, 6, 9, 0, 0, TimeSpan.Zero));
    private readonly FakeLogCollector _logs = new();

    // Marks content the way a provider adapter would read it: a property on a copy.
    private sealed class RecordingHints : IProviderCacheHints
    {
        public const string Key = "test:cache";

        public IReadOnlyList<TimeSpan> TimesToLive { get; } = [TimeSpan.FromMinutes(5), TimeSpan.FromHours(1)];

        public IReadOnlyList<decimal> WriteMultipliers { get; } = [1.25m, 2m];

        public decimal ReadMultiplier => 0.1m;

        public int MaxBreakpoints => 4;

        public int MinimumPrefixTokens(string? modelId) => 1024;

        public AIContent? MarkBreakpoint(AIContent content, TimeSpan timeToLive) =>
            content is TextContent text ? new TextContent(text.Text) { AdditionalProperties = new() { [Key] = timeToLive } } : null;

        public ChatOptions? WithRoutingKey(ChatOptions? options, string key) => options;
    }

    // The provider: records the marks each request carried, as (message index, lifetime).
    private sealed class Provider : IChatClient
    {
        public List<List<(int Index, TimeSpan Ttl)>> Marks { get; } = [];

        public Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
        {
            List<(int, TimeSpan)> marks = [];
            int i = 0;
            foreach (ChatMessage message in messages)
            {
                foreach (AIContent content in message.Contents)
                {
                    if (content.AdditionalProperties?.TryGetValue(RecordingHints.Key, out object? ttl) == true)
                    {
                        marks.Add((i, (TimeSpan)ttl!));
                    }
                }

                i++;
            }

            Marks.Add(marks);
            return Task.FromResult(new ChatResponse(new ChatMessage(ChatRole.Assistant, "ok")));
        }

        public IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default) =>
            TestChatClient.Yield(GetResponseAsync(messages, options, cancellationToken).Result.ToChatResponseUpdates(), cancellationToken: cancellationToken);

        public object? GetService(Type serviceType, object? serviceKey = null) =>
            serviceType == typeof(ChatClientMetadata) ? new ChatClientMetadata("anthropic", null, Model) : null;

        public void Dispose()
        {
        }
    }

    private static string Long(string seed, int words = 1500) => string.Join(' ', Enumerable.Range(0, words).Select(i => $"{seed}{i % 97}"));

    private ProviderPromptCachingChatClient Stage(Provider provider) =>
        new(provider, new RecordingHints(), timeProvider: _time, loggerFactory: LoggerFactory.Create(b => b.AddProvider(new FakeLoggerProvider(_logs))));

    private static ChatOptions Tenant(string tenant) => new ChatOptions().WithCostScope(new CostScope { Tenant = tenant });

    [Fact]
    public async Task PrefixesThatDoNotRecur_AreNeverMarked()
    {
        Provider provider = new();
        using ProviderPromptCachingChatClient stage = Stage(provider);

        for (int i = 0; i < 20; i++)
        {
            _ = await stage.GetResponseAsync([new ChatMessage(ChatRole.System, Long($"prompt{i}-")), new ChatMessage(ChatRole.User, "hi")]);
            _time.Advance(TimeSpan.FromMinutes(1));
        }

        Assert.All(provider.Marks, m => Assert.Empty(m));
    }

    [Fact]
    public async Task ASystemPromptThatRecursWithinMinutes_IsMarkedForFiveMinutes_FromItsSecondArrival()
    {
        Provider provider = new();
        using ProviderPromptCachingChatClient stage = Stage(provider);
        string system = Long("policy");

        for (int i = 0; i < 3; i++)
        {
            _ = await stage.GetResponseAsync([new ChatMessage(ChatRole.System, system), new ChatMessage(ChatRole.User, $"question {i}")]);
            _time.Advance(TimeSpan.FromMinutes(1));
        }

        Assert.Empty(provider.Marks[0]);
        Assert.Equal([(0, TimeSpan.FromMinutes(5))], provider.Marks[1]);
        Assert.Equal([(0, TimeSpan.FromMinutes(5))], provider.Marks[2]);
    }

    [Theory]
    [InlineData(20, 60)]
    [InlineData(50, 0)]
    public async Task TheLifetimeFollowsTheGapBetweenArrivals(int gapMinutes, int expectedMinutes)
    {
        Provider provider = new();
        using ProviderPromptCachingChatClient stage = Stage(provider);
        string system = Long("policy");

        for (int i = 0; i < 4; i++)
        {
            _ = await stage.GetResponseAsync([new ChatMessage(ChatRole.System, system), new ChatMessage(ChatRole.User, $"q{i}")]);
            _time.Advance(TimeSpan.FromMinutes(gapMinutes));
        }

        // Every 20 minutes: the one-hour write (2x) pays back with two reads an hour; every 50: nothing pays.
        Assert.Equal(expectedMinutes == 0 ? [] : [(0, TimeSpan.FromMinutes(expectedMinutes))], provider.Marks[3]);
    }

    [Fact]
    public async Task AnAgentLoop_ReadsThePreviousTurn_AndWritesItsOwnTail_WithoutChangingTheCallersMessages()
    {
        Provider provider = new();
        using ProviderPromptCachingChatClient stage = Stage(provider);
        List<ChatMessage> conversation = [new(ChatRole.System, "You are an agent."), new(ChatRole.User, Long("task"))];

        _ = await stage.GetResponseAsync(conversation);
        for (int turn = 1; turn <= 3; turn++)
        {
            _time.Advance(TimeSpan.FromSeconds(20));
            conversation.Add(new ChatMessage(ChatRole.Assistant, $"calling tool {turn}"));
            conversation.Add(new ChatMessage(ChatRole.User, Long($"result{turn}-", 200)));
            _ = await stage.GetResponseAsync(conversation);
        }

        Assert.Empty(provider.Marks[0]);
        Assert.Equal([(1, TimeSpan.FromMinutes(5)), (3, TimeSpan.FromMinutes(5))], provider.Marks[1].Order());
        Assert.Equal([(3, TimeSpan.FromMinutes(5)), (5, TimeSpan.FromMinutes(5))], provider.Marks[2].Order());
        Assert.Equal([(5, TimeSpan.FromMinutes(5)), (7, TimeSpan.FromMinutes(5))], provider.Marks[3].Order());
        Assert.All(conversation, m => Assert.All(m.Contents, c => Assert.Null(c.AdditionalProperties)));
    }

    [Fact]
    public async Task OnceATenantsRequestsAreUsuallyExtended_FirstTurnsAreWrittenToo()
    {
        Provider provider = new();
        using ProviderPromptCachingChatClient stage = Stage(provider);

        // 25 two-turn tasks: every first turn is extended by its second.
        for (int task = 0; task < 25; task++)
        {
            List<ChatMessage> conversation = [new(ChatRole.User, Long($"task{task}-"))];
            _ = await stage.GetResponseAsync(conversation);
            conversation.Add(new ChatMessage(ChatRole.Assistant, "step"));
            conversation.Add(new ChatMessage(ChatRole.User, "go on"));
            _ = await stage.GetResponseAsync(conversation);
            _time.Advance(TimeSpan.FromSeconds(10));
        }

        _ = await stage.GetResponseAsync([new ChatMessage(ChatRole.User, Long("fresh-task"))]);

        Assert.Empty(provider.Marks[0]);
        Assert.Equal([(0, TimeSpan.FromMinutes(5))], provider.Marks[^1]);
    }

    [Fact]
    public async Task PrefixesBelowTheMinimum_AreNeverMarked()
    {
        Provider provider = new();
        using ProviderPromptCachingChatClient stage = Stage(provider);

        for (int i = 0; i < 3; i++)
        {
            _ = await stage.GetResponseAsync([new ChatMessage(ChatRole.System, "Be brief."), new ChatMessage(ChatRole.User, "hi")]);
        }

        Assert.All(provider.Marks, m => Assert.Empty(m));
        Assert.Equal(0, stage.TrackedPrefixes);
    }

    [Fact]
    public async Task OneTenantsRecurringPrompt_DoesNotMarkAnotherTenantsFirstCall()
    {
        Provider provider = new();
        using ProviderPromptCachingChatClient stage = Stage(provider);
        string system = Long("policy");

        _ = await stage.GetResponseAsync([new ChatMessage(ChatRole.System, system), new ChatMessage(ChatRole.User, "a")], Tenant("acme"));
        _ = await stage.GetResponseAsync([new ChatMessage(ChatRole.System, system), new ChatMessage(ChatRole.User, "b")], Tenant("acme"));
        _ = await stage.GetResponseAsync([new ChatMessage(ChatRole.System, system), new ChatMessage(ChatRole.User, "c")], Tenant("globex"));

        Assert.Equal([(0, TimeSpan.FromMinutes(5))], provider.Marks[1]);
        Assert.Empty(provider.Marks[2]);
    }

    [Fact]
    public async Task ATimestampAtTheStartOfALongSystemPrompt_IsReportedOnce()
    {
        Provider provider = new();
        using ProviderPromptCachingChatClient stage = Stage(provider);

        for (int i = 0; i < 5; i++)
        {
            string system = $"You are the support assistant. Current time: 2026-12-06T09:{i:00}:00Z. " + Long("policy");
            _ = await stage.GetResponseAsync([new ChatMessage(ChatRole.System, system), new ChatMessage(ChatRole.User, "hi")]);
            _time.Advance(TimeSpan.FromMinutes(1));
        }

        FakeLogRecord warning = Assert.Single(_logs.GetSnapshot(), r => r.Id.Id == 91);
        Assert.Equal(LogLevel.Warning, warning.Level);
        Assert.DoesNotContain("support assistant", warning.Message, StringComparison.Ordinal);
        Assert.All(provider.Marks, m => Assert.Empty(m));
    }

    [Fact]
    public async Task Streaming_IsMarkedAlike()
    {
        Provider provider = new();
        using ProviderPromptCachingChatClient stage = Stage(provider);
        string system = Long("policy");

        for (int i = 0; i < 2; i++)
        {
            await foreach (ChatResponseUpdate _ in stage.GetStreamingResponseAsync([new ChatMessage(ChatRole.System, system), new ChatMessage(ChatRole.User, "q")]))
            {
            }
        }

        Assert.Equal([(0, TimeSpan.FromMinutes(5))], provider.Marks[1]);
    }

    [Fact]
    public void StatisticsAreBounded()
    {
        PrefixStatisticsProbe.ObserveMany(40, capacity: 16, out int kept);
        Assert.InRange(kept, 1, 16);
    }

    private static class PrefixStatisticsProbe
    {
        public static void ObserveMany(int count, int capacity, out int kept)
        {
            Internal.PrefixStatistics statistics = new(capacity);
            for (int i = 0; i < count; i++)
            {
                statistics.Observe((UInt128)i, i);
            }

            kept = statistics.Count;
        }
    }

    [Fact]
    public void ReceiptsSayWhatTheProvidersCacheSaved()
    {
        ModelPrice price = PriceCatalog.BuiltIn.TryGetPrice(Model, out ModelPrice? p) ? p : throw new InvalidOperationException();
        TokenCounts tokens = new() { Input = 100_000, CachedInput = 80_000, CacheWrite = 10_000, Output = 1_000 };
        CostReceiptEntry entry = new() { Kind = CostEntryKind.ProviderCall, ModelId = Model, Tokens = tokens, Price = price, Cost = price.CalculateCost(tokens) };

        // Sonnet 4.5 per million: $3 input, $0.30 read, $3.75 write. Reads save 80,000 x $2.70; writes cost 10,000 x $0.75 more.
        Assert.Equal(0.216m - 0.0075m, entry.ProviderCacheSaved);
        CostReceipt receipt = new(Guid.NewGuid(), new CostScope(), new DateTimeOffset(2026, 12, 6, 9, 0, 0, TimeSpan.Zero));
        receipt.Add(entry);
        Assert.Equal(0.2085m, receipt.ProviderCacheSaved);
    }

    [Fact]
    public async Task OptionsBindFromConfiguration_AndBadOnesFailAtStart()
    {
        IConfigurationSection good = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["CostAware:ProviderPromptCaching:MaxTrackedPrefixes"] = "64",
            ["CostAware:ProviderPromptCaching:MinimumPrefixTokens"] = "4096",
            ["CostAware:ProviderPromptCaching:RoutingKeySalt"] = "s3cret",
        }).Build().GetSection("CostAware");
        ServiceCollection services = new();
        services.AddCostAware(good);
        Provider provider = new();
        services.AddChatClient(provider).UseProviderPromptCaching(new RecordingHints());
        await using ServiceProvider built = services.BuildServiceProvider();
        Assert.Equal(4096, built.GetRequiredService<IOptions<CostAwareOptions>>().Value.ProviderPromptCaching.MinimumPrefixTokens);
        _ = await built.GetRequiredService<IChatClient>().GetResponseAsync("hi");

        IConfigurationSection bad = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["CostAware:ProviderPromptCaching:MaxTrackedPrefixes"] = "3",
        }).Build().GetSection("CostAware");
        await using ServiceProvider failing = new ServiceCollection().AddCostAware(bad).BuildServiceProvider();
        OptionsValidationException ex = Assert.Throws<OptionsValidationException>(() => failing.GetRequiredService<IOptions<CostAwareOptions>>().Value);
        Assert.Contains(ex.Failures, f => f.Contains("MaxTrackedPrefixes", StringComparison.Ordinal));

        IConfigurationSection unknown = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["CostAware:ProviderPromptCaching:MaxTrackedPrefix"] = "64",
        }).Build().GetSection("CostAware");
        await using ServiceProvider typo = new ServiceCollection().AddCostAware(unknown).BuildServiceProvider();
        _ = Assert.ThrowsAny<Exception>(() => typo.GetRequiredService<IOptions<CostAwareOptions>>().Value);
    }

    [Fact]
    public async Task SixtyFourConcurrentCallers_ShareTheStatisticsSafely()
    {
        Provider provider = new();
        using ProviderPromptCachingChatClient stage = Stage(provider);
        string system = Long("policy");

        await Task.WhenAll(Enumerable.Range(0, 64).Select(i => Task.Run(() =>
            stage.GetResponseAsync([new ChatMessage(ChatRole.System, system), new ChatMessage(ChatRole.User, Long($"q{i}-"))], Tenant($"t{i % 4}")))));
        _ = await stage.GetResponseAsync([new ChatMessage(ChatRole.System, system), new ChatMessage(ChatRole.User, "last")], Tenant("t0"));

        // Per tenant the system prompt (4), every request as a whole (64, and the last one); the last call reads the
        // tenant's system prompt.
        Assert.Equal(4 + 64 + 1, stage.TrackedPrefixes);
        Assert.Equal([(0, TimeSpan.FromMinutes(5))], provider.Marks[^1]);
    }
}

using System.Text;
using CostAware.Tests.TestUtilities;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Caching.Distributed;
using Microsoft.Extensions.Caching.Hybrid;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using StackExchange.Redis;

namespace CostAware.Redis.Tests;

// Two (or more) app nodes, each with its own service provider, memory L1 and provider client, sharing one real Redis.
[Collection(RedisTestGroup.Name)]
public sealed class PromptCacheRedisTests(RedisServerFixture redis) : IAsyncDisposable
{
    // gpt-4o: 1,000 input x $2.50 + 200 output x $10 per million = $0.0045.
    private const decimal AnswerCost = 0.0045m;

    private readonly string _instance = $"costaware-test-{Guid.NewGuid():N}:";
    private readonly List<Node> _nodes = [];

    public async ValueTask DisposeAsync()
    {
        foreach (Node node in _nodes)
        {
            await node.Services.DisposeAsync();
        }
    }

    private Node NewNode(string? configuration = null)
    {
        Node node = new(configuration ?? redis.Configuration, _instance);
        _nodes.Add(node);
        return node;
    }

    private static ChatOptions Tenant(string tenant) => new ChatOptions().WithCostScope(new CostScope { Tenant = tenant });

    // HybridCache writes L2 after it has answered its callers; another node can only see the entry once it is there.
    private async Task WaitForL2Async(Node node, string prompt, ChatOptions? options = null)
    {
        string key = _instance + node.Client.GetService<PromptCacheChatClient>()!.GetCacheKey([new ChatMessage(ChatRole.User, prompt)], options);
        IDatabase db = redis.Connection.GetDatabase();
        for (int i = 0; i < 200 && !await db.KeyExistsAsync(key); i++)
        {
            await Task.Delay(TimeSpan.FromMilliseconds(25), TimeProvider.System);
        }

        Assert.True(await db.KeyExistsAsync(key), $"The entry never reached Redis under {key}.");
    }

    [Fact]
    public async Task TwoNodes_SecondNodeServedFromRedisWithoutProviderCall()
    {
        Node a = NewNode();
        Node b = NewNode();

        ChatResponse first = await a.Client.GetResponseAsync("What is 9 + 9?", Tenant("acme"));
        await WaitForL2Async(a, "What is 9 + 9?", Tenant("acme"));
        ChatResponse second = await b.Client.GetResponseAsync("What is 9 + 9?", Tenant("acme"));

        Assert.Equal(1, a.Inner.Calls);
        Assert.Equal(0, b.Inner.Calls);
        Assert.Equal("18", second.Text);
        Assert.Equal(AnswerCost, first.GetCostReceipt()!.Spent);
        CostReceiptEntry hit = Assert.Single(second.GetCostReceipt()!.Entries);
        Assert.Equal(CostEntryKind.CacheHit, hit.Kind);
        Assert.Equal(AnswerCost, hit.CostAvoided);
        Assert.Equal(0m, second.GetCostReceipt()!.Spent);
    }

    [Fact]
    public async Task TwoNodes_OtherTenantNeverGetsTheEntry()
    {
        Node a = NewNode();
        Node b = NewNode();

        _ = await a.Client.GetResponseAsync("Summarise our contract", Tenant("acme"));
        await WaitForL2Async(a, "Summarise our contract", Tenant("acme"));
        ChatResponse other = await b.Client.GetResponseAsync("Summarise our contract", Tenant("globex"));

        Assert.Equal(1, b.Inner.Calls);
        Assert.Equal(CostEntryKind.ProviderCall, Assert.Single(other.GetCostReceipt()!.Entries).Kind);
    }

    [Fact]
    public async Task TwoNodes_StreamedMissOnOne_NonStreamingHitOnTheOther()
    {
        Node a = NewNode();
        Node b = NewNode();

        await foreach (ChatResponseUpdate _ in a.Client.GetStreamingResponseAsync("q"))
        {
        }

        await WaitForL2Async(a, "q");
        ChatResponse hit = await b.Client.GetResponseAsync("q");

        Assert.Equal(0, b.Inner.Calls);
        Assert.Equal("18", hit.Text);
        Assert.Equal(AnswerCost, hit.GetCostReceipt()!.Avoided);
    }

    public static TheoryData<string, byte[]> ForeignEntries => new()
    {
        { "not a CostAware prompt-cache entry", Encoding.UTF8.GetBytes("{\"answer\":42}") },
        { "format version 9, this version reads 1", [(byte)'C', (byte)'A', (byte)'P', (byte)'C', 9, 0, 0] },
        { "damaged entry: The entry ends early.", [(byte)'C', (byte)'A', (byte)'P', (byte)'C', 1, 0, 5, (byte)'g'] },
    };

    [Theory]
    [MemberData(nameof(ForeignEntries))]
    public async Task ForeignOrDamagedL2Entry_TreatedAsMissLoggedAndReplaced(string reason, byte[] payload)
    {
        Node writer = NewNode();
        Node a = NewNode();
        string key = a.Client.GetService<PromptCacheChatClient>()!.GetCacheKey([new ChatMessage(ChatRole.User, "q")])!;
        // Written through HybridCache, so the envelope is valid and only the payload is foreign.
        await writer.Services.GetRequiredService<HybridCache>().SetAsync(key, payload);
        await WaitForL2Async(writer, "q");

        ChatResponse response = await a.Client.GetResponseAsync("q");

        Assert.Equal("18", response.Text);
        Assert.Equal(1, a.Inner.Calls);
        FakeLogRecord warning = Assert.Single(a.Logs.GetSnapshot(), r => r.Id.Id == 7);
        Assert.Equal(LogLevel.Warning, warning.Level);
        Assert.Contains(reason, warning.Message, StringComparison.Ordinal);

        // The unreadable entry was replaced: a fresh node is served from Redis.
        Node c = NewNode();
        // RedisCache keeps the payload in the hash field "data"; wait until it holds the replacement.
        byte[] current = "CAPC\u0001"u8.ToArray();
        for (int i = 0; i < 200 && ((byte[]?)await redis.Connection.GetDatabase().HashGetAsync(_instance + key, "data"))?.AsSpan().IndexOf(current) is null or < 0; i++)
        {
            await Task.Delay(TimeSpan.FromMilliseconds(25), TimeProvider.System);
        }

        _ = await c.Client.GetResponseAsync("q");
        Assert.Equal(0, c.Inner.Calls);
    }

    [Fact]
    public async Task InvalidateTenant_FreshNodeMissesThatTenantOnly()
    {
        Node a = NewNode();
        _ = await a.Client.GetResponseAsync("q", Tenant("acme"));
        _ = await a.Client.GetResponseAsync("q", Tenant("globex"));
        await WaitForL2Async(a, "q", Tenant("acme"));
        await WaitForL2Async(a, "q", Tenant("globex"));

        await a.Client.GetService<PromptCacheChatClient>()!.InvalidateTenantAsync("acme");
        Node c = NewNode();
        _ = await c.Client.GetResponseAsync("q", Tenant("globex"));
        _ = await c.Client.GetResponseAsync("q", Tenant("acme"));

        Assert.Equal(1, c.Inner.Calls);
    }

    [Fact]
    public async Task RedisUnreachable_CallsStillAnsweredFromProviderAndMemory()
    {
        using System.Net.Sockets.TcpListener probe = new(System.Net.IPAddress.Loopback, 0);
        probe.Start();
        int closedPort = ((System.Net.IPEndPoint)probe.LocalEndpoint).Port;
        probe.Stop();
        Node a = NewNode($"127.0.0.1:{closedPort},connectTimeout=200,connectRetry=0");

        ChatResponse first = await a.Client.GetResponseAsync("q");
        Assert.Equal("18", first.Text);

        // Memory keeps answering. HybridCache treats an entry as invalid until it has learnt its tags' invalidation
        // times from L2, so a call made while that read is still timing out goes to the provider; later ones hit.
        bool hit = false;
        for (int i = 0; i < 100 && !hit; i++)
        {
            ChatResponse again = await a.Client.GetResponseAsync("q");
            Assert.Equal("18", again.Text);
            hit = again.GetCostReceipt()!.Entries[0].Kind == CostEntryKind.CacheHit;
            if (!hit)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(50), TimeProvider.System);
            }
        }

        Assert.True(hit, "Memory never served the answer while Redis was unreachable.");
    }

    [Fact]
    public void AddCostAwareRedis_NoConfiguration_KeepsEverythingInMemory()
    {
        ServiceCollection services = new();
        services.AddCostAware().AddCostAwareRedis(new ConfigurationBuilder().Build().GetSection("CostAware:Redis"));

        Assert.DoesNotContain(services, d => d.ServiceType == typeof(IDistributedCache));
        Assert.DoesNotContain(services, d => d.ServiceType == typeof(IConnectionMultiplexer));
    }

    [Fact]
    public void AddCostAwareRedis_BadInstanceName_ThrowsNamingTheField()
    {
        ServiceCollection services = new();

        Microsoft.Extensions.Options.OptionsValidationException ex = Assert.Throws<Microsoft.Extensions.Options.OptionsValidationException>(
            () => services.AddCostAwareRedis(o => { o.Configuration = "127.0.0.1:6379"; o.InstanceName = "two words"; }));
        Assert.Equal("CostAware:Redis: InstanceName: The InstanceName field must be 1 to 64 printable ASCII characters without spaces.", Assert.Single(ex.Failures));
    }

    private sealed class Node
    {
        public Node(string redisConfiguration, string instance)
        {
            Inner.GetResponseAsyncCallback = (_, _, _) => Task.FromResult(new ChatResponse(new ChatMessage(ChatRole.Assistant, "18"))
            {
                ModelId = "gpt-4o-2024-08-06",
                FinishReason = ChatFinishReason.Stop,
                Usage = new UsageDetails { InputTokenCount = 1_000, OutputTokenCount = 200 },
            });
            Inner.GetStreamingResponseAsyncCallback = (_, _, ct) => TestChatClient.Yield(
            [
                new ChatResponseUpdate(ChatRole.Assistant, "1") { ModelId = "gpt-4o-2024-08-06" },
                new ChatResponseUpdate(ChatRole.Assistant, "8"),
                new ChatResponseUpdate { FinishReason = ChatFinishReason.Stop, Contents = [new UsageContent(new UsageDetails { InputTokenCount = 1_000, OutputTokenCount = 200 })] },
            ], cancellationToken: ct);

            // By configuration alone, as an app would: the same code with no Redis:Configuration stays in memory.
            IConfigurationSection section = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
            {
                ["CostAware:Redis:Configuration"] = redisConfiguration,
                ["CostAware:Redis:InstanceName"] = instance,
                ["CostAware:PromptCache:TimeToLive"] = "00:10:00",
            }).Build().GetSection("CostAware");

            ServiceCollection services = new();
            services.AddLogging(b => b.AddProvider(new FakeLoggerProvider(Logs)).SetMinimumLevel(LogLevel.Debug));
            services.AddCostAware(section).AddCostAwareRedis(section.GetSection("Redis"));
            services.AddChatClient(Inner).UsePromptCache().UseTokenMetering();
            Services = services.BuildServiceProvider();
            Client = Services.GetRequiredService<IChatClient>();
        }

        public TestChatClient Inner { get; } = new() { Metadata = new ChatClientMetadata("openai", null, "gpt-4o") };

        public FakeLogCollector Logs { get; } = new();

        public ServiceProvider Services { get; }

        public IChatClient Client { get; }
    }
}

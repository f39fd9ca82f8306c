using CostAware.Tests.TestUtilities;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using StackExchange.Redis;

namespace CostAware.Redis.Tests;

// Two nodes, each its own service provider with its own local index, sharing entries through the real redis-server.
[Collection(RedisTestGroup.Name)]
public sealed class SemanticCacheRedisTests(RedisServerFixture redis) : IAsyncDisposable
{
    private readonly string _instance = $"costaware-test-{Guid.NewGuid():N}:";
    private readonly List<Node> _nodes = [];

    public async ValueTask DisposeAsync()
    {
        foreach (Node node in _nodes)
        {
            await node.Services.DisposeAsync();
        }
    }

    private Node NewNode()
    {
        Node node = new(redis.Configuration, _instance);
        _nodes.Add(node);
        return node;
    }

    private static ChatOptions Tenant(string tenant) => new ChatOptions().WithCostScope(new CostScope { Tenant = tenant });

    // Pub/sub delivers asynchronously: wait until a node's replica holds the expected number of entries.
    private static async Task WaitForCountAsync(Node node, int count)
    {
        for (int i = 0; i < 400 && node.Cache.Count != count; i++)
        {
            await Task.Delay(TimeSpan.FromMilliseconds(10), TimeProvider.System);
        }

        Assert.Equal(count, node.Cache.Count);
    }

    [Fact]
    public async Task An_entry_stored_on_one_node_is_served_by_a_running_node_and_by_one_that_starts_later()
    {
        Node a = NewNode();
        Node b = NewNode();
        _ = await b.Client.GetResponseAsync("Warm up the subscription.", Tenant("other"));
        Assert.Equal(1, b.Inner.Calls);

        _ = await a.Client.GetResponseAsync("How do I reset my password?", Tenant("acme"));
        await WaitForCountAsync(b, 2);
        ChatResponse fromB = await b.Client.GetResponseAsync("how do I reset my password", Tenant("acme"));

        Node late = NewNode();
        ChatResponse fromLate = await late.Client.GetResponseAsync("How do I reset my password?", Tenant("acme"));

        Assert.Equal(1, a.Inner.Calls);
        Assert.Equal(1, b.Inner.Calls);
        Assert.Equal(0, late.Inner.Calls);
        Assert.Equal("Click 'Forgot password'.", fromB.Text);
        Assert.Equal("Click 'Forgot password'.", fromLate.Text);
        Assert.Equal(0.0045m, fromLate.GetCostReceipt()!.Avoided);
    }

    [Fact]
    public async Task A_wrong_hit_reported_on_one_node_stops_that_entry_on_the_others()
    {
        Node a = NewNode();
        Node b = NewNode();
        _ = await b.Client.GetResponseAsync("Warm up the subscription.", Tenant("other"));
        _ = await a.Client.GetResponseAsync("How do I reset my password?", Tenant("acme"));
        await WaitForCountAsync(b, 2);
        const string Paraphrase = "how do I reset my password";
        ChatResponse hit = await a.Client.GetResponseAsync(Paraphrase, Tenant("acme"));
        Assert.True(hit.AdditionalProperties!.ContainsKey(CostAwareProperties.SemanticSimilarity));

        Assert.True(await a.Cache.ReportWrongHitAsync(hit.GetCostReceipt()!.Id));

        // Node b learns it through the store: the same paraphrase soon goes to its provider.
        int before = b.Inner.Calls;
        for (int i = 0; i < 400 && b.Inner.Calls == before; i++)
        {
            _ = await b.Client.GetResponseAsync(Paraphrase, Tenant("acme"));
            await Task.Delay(TimeSpan.FromMilliseconds(10), TimeProvider.System);
        }

        Assert.Equal(before + 1, b.Inner.Calls);
    }

    [Fact]
    public async Task Another_tenant_on_another_node_never_gets_the_entry()
    {
        Node a = NewNode();
        Node b = NewNode();
        _ = await a.Client.GetResponseAsync("What is our refund policy?", Tenant("acme"));
        _ = await b.Client.GetResponseAsync("What is our refund policy?", Tenant("globex"));
        Assert.Equal(1, b.Inner.Calls);
    }

    [Fact]
    public async Task Invalidating_a_tenant_on_one_node_removes_it_everywhere()
    {
        Node a = NewNode();
        Node b = NewNode();
        _ = await a.Client.GetResponseAsync("What is our refund policy?", Tenant("acme"));
        _ = await b.Client.GetResponseAsync("What is our refund policy?", Tenant("acme"));
        Assert.Equal(0, b.Inner.Calls);

        await a.Cache.InvalidateTenantAsync("acme");
        await WaitForCountAsync(b, 0);
        _ = await b.Client.GetResponseAsync("What is our refund policy?", Tenant("acme"));
        Assert.Equal(1, b.Inner.Calls);

        // A node that starts now catches up with b's fresh answer only, not the invalidated one.
        Node late = NewNode();
        _ = await late.Client.GetResponseAsync("Something else entirely?", Tenant("acme"));
        Assert.Equal(1, late.Inner.Calls);
        Assert.Equal(2, late.Cache.Count);
    }

    [Fact]
    public async Task Entries_live_in_redis_with_their_time_to_live_and_a_damaged_one_is_skipped()
    {
        Node a = NewNode();
        _ = await a.Client.GetResponseAsync("What is our refund policy?", Tenant("acme"));

        IServer server = redis.Connection.GetServers()[0];
        RedisKey key = Assert.Single(server.Keys(pattern: _instance + "semantic:e:*"));
        IDatabase db = redis.Connection.GetDatabase();
        TimeSpan? ttl = await db.KeyTimeToLiveAsync(key);
        Assert.InRange(ttl!.Value, TimeSpan.FromHours(23), TimeSpan.FromHours(24));

        await db.StringSetAsync(_instance + "semantic:e:junk", new byte[] { 1, 2, 3 }, TimeSpan.FromMinutes(1));
        Node late = NewNode();
        _ = await late.Client.GetResponseAsync("What is our refund policy?", Tenant("acme"));
        Assert.Equal(0, late.Inner.Calls);
    }

    [Fact]
    public async Task Lessons_saved_at_once_by_many_nodes_are_all_kept_in_the_store()
    {
        // 32 nodes learn one lesson each about the same entry at the same moment; a node that starts later must find
        // every one of them (above all the wrong answer), not only the last writer's.
        DateTimeOffset expires = TimeProvider.System.GetUtcNow().AddHours(1);
        SemanticCacheRecord Lesson(int node) => new()
        {
            Id = "entry-1",
            Group = "g",
            Partition = "p",
            Prompt = "How do I reset my password?",
            Vector = new float[] { 1f, 0f, 0f },
            Answer = new byte[] { 1, 2, 3 },
            ExpiresAt = expires,
            WrongAt = node == 17 ? 0.93f : null,
            Confirmations = node % 4 == 0 ? new[] { 0.80f + (node / 1000f) } : Array.Empty<float>(),
            Aliases = node % 4 == 1 ? [$"text {node}"] : [],
        };

        RedisSemanticCacheStore[] stores = [.. Enumerable.Range(0, 32).Select(_ => new RedisSemanticCacheStore(redis.Connection, _instance + "race"))];
        await Task.WhenAll(Enumerable.Range(0, 32).Select(i => Task.Run(async () => await stores[i].SaveAsync(Lesson(i)))));

        SemanticCacheRecord stored = Assert.Single(await stores[0].LoadAllAsync().ToListAsync());
        Assert.Equal(0.93f, stored.WrongAt);
        Assert.Equal(8, stored.Confirmations.Length);
        Assert.Equal(0.80f, stored.Confirmations.Span[0]);
        Assert.Equal(8, stored.Aliases.Count);
    }

    private sealed class Node
    {
        public Node(string redisConfiguration, string instance)
        {
            Inner.GetResponseAsyncCallback = (_, _, _) => Task.FromResult(new ChatResponse(new ChatMessage(ChatRole.Assistant, "Click 'Forgot password'."))
            {
                ModelId = "gpt-4o-2024-08-06",
                FinishReason = ChatFinishReason.Stop,
                Usage = new UsageDetails { InputTokenCount = 1_000, OutputTokenCount = 200 },
            });

            IConfiguration configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
            {
                ["CostAware:Redis:Configuration"] = redisConfiguration,
                ["CostAware:Redis:InstanceName"] = instance,
                ["CostAware:SemanticCache:SimilarityThreshold"] = "0.8",
            }).Build();
            ServiceCollection services = new();
            services.AddCostAware()
                .AddCostAwareRedis(configuration.GetSection("CostAware:Redis"))
                .AddCostAwareSemanticCache(configuration.GetSection("CostAware:SemanticCache"));
            Services = services.BuildServiceProvider();
            Client = new ChatClientBuilder(Inner).UseSemanticCache().UseTokenMetering().Build(Services);
            Cache = Client.GetService<SemanticCacheChatClient>()!;
        }

        public TestChatClient Inner { get; } = new();

        public ServiceProvider Services { get; }

        public IChatClient Client { get; }

        public SemanticCacheChatClient Cache { get; }
    }
}

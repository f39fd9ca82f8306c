using System.ClientModel;
using CostAware.Batching.Internal;
using CostAware.Batching.OpenAI.Internal;
using CostAware.Batching.Anthropic.Internal;
using CostAware.Shared;
using CostAware.Redis.Tests;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using OpenAI;

namespace CostAware.Batching.Tests.Internal;

// The deferral queue in the real redis-server: the same contract as the SQLite file, and two nodes (two schedulers,
// two queue instances) sharing one queue.
[Collection(RedisTestGroup.Name)]
public sealed class DeferralQueueRedisTests(RedisServerFixture redis) : DeferralQueueContractTests
{
    private readonly string _instance = $"costaware-test-{Guid.NewGuid():N}:";

    internal override Task<IDeferralQueue> OpenAsync() => Task.FromResult<IDeferralQueue>(new RedisDeferralQueue(redis.Connection, _instance));

    [Fact]
    public async Task TwoNodes_CallsFromBothInOneBatch_EachAnswerReachesItsOwnCallerOnce()
    {
        await using OpenAIBatchStandIn server = await OpenAIBatchStandIn.StartAsync();
        FakeTimeProvider time = new(new DateTimeOffset(2026, 11, 24, 2, 0, 0, TimeSpan.Zero));
        InMemoryCostLedger ledger = new();
        (DeferralCoordinator Coordinator, IChatClient Client) Node(string name)
        {
            OpenAIClient openai = new(new ApiKeyCredential("sk-test"), new OpenAIClientOptions { Endpoint = server.Endpoint });
            DeferralCoordinator coordinator = new(
                new BatchDeferralOptions { NodeName = name, MaxWait = TimeSpan.FromSeconds(30), OnResult = _ => throw new InvalidOperationException("every caller is waiting") },
                [new OpenAIBatchProvider(openai)],
                PriceCatalog.BuiltIn,
                ledger,
                time,
                NullLogger.Instance,
                new RedisDeferralQueue(redis.Connection, _instance));
            return (coordinator, new BatchDeferralChatClient(new CostAware.Tests.NoClient(), coordinator, time, NullLogger.Instance));
        }

        (DeferralCoordinator a, IChatClient clientA) = Node("node-a");
        (DeferralCoordinator b, IChatClient clientB) = Node("node-b");
        ChatOptions Options() => new ChatOptions { ModelId = "gpt-4o-mini", MaxOutputTokens = 50 }.WithDeferral(Deferral.Unbounded);
        Task<ChatResponse>[] fromA = [clientA.GetResponseAsync("a1", Options()), clientA.GetResponseAsync("a2", Options())];
        Task<ChatResponse>[] fromB = [clientB.GetResponseAsync("b1", Options()), clientB.GetResponseAsync("b2", Options())];
        for (int i = 0; i < 200 && server.Batches.IsEmpty; i++)
        {
            await Task.Delay(TimeSpan.FromMilliseconds(10), TimeProvider.System);
            time.Advance(TimeSpan.FromSeconds(31));
            await Task.WhenAll(a.RunOnceAsync(CancellationToken.None), b.RunOnceAsync(CancellationToken.None));
        }

        string batchId = Assert.Single(server.Batches.Keys);
        Assert.Equal(4, server.InputLines(batchId).Count);
        server.CompleteAll(batchId, q => "answer " + q);
        for (int i = 0; i < 200 && !(fromA.All(t => t.IsCompleted) && fromB.All(t => t.IsCompleted)); i++)
        {
            time.Advance(TimeSpan.FromMinutes(1));
            await a.RunOnceAsync(CancellationToken.None);
            await b.RunOnceAsync(CancellationToken.None);
            await Task.Delay(TimeSpan.FromMilliseconds(10), TimeProvider.System);
        }

        Assert.Equal(["answer a1", "answer a2"], (await Task.WhenAll(fromA)).Select(r => r.Text));
        Assert.Equal(["answer b1", "answer b2"], (await Task.WhenAll(fromB)).Select(r => r.Text));
        Assert.Equal(1, server.BatchCreates);
        Assert.Equal(4, (await ledger.QueryAsync(CostLedgerQuery.All).ToListAsync()).Count);
        await a.DisposeAsync();
        await b.DisposeAsync();
    }
}

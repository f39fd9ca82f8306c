using System.Text;
using CostAware.Internal.Batching;

namespace CostAware.Batching.Tests.Internal;

public sealed class SqliteDeferralQueueTests : IDisposable
{
    private static readonly DateTimeOffset Now = new(2026, 11, 24, 2, 0, 0, TimeSpan.Zero);
    private readonly string _path = Path.Combine(Path.GetTempPath(), $"costaware-queue-{Guid.NewGuid():N}.db");

    public void Dispose()
    {
        foreach (string file in (string[])[_path, _path + "-wal", _path + "-shm"])
        {
            File.Delete(file);
        }
    }

    private static DeferredCall Call(string id, int seconds = 0, int bytes = 10) => new()
    {
        Id = id,
        Provider = "openai",
        Endpoint = "/v1/chat/completions",
        ModelId = "gpt-4o-mini",
        Body = Encoding.UTF8.GetBytes(new string('x', bytes)),
        CreatedAt = Now.AddSeconds(seconds),
    };

    [Fact]
    public async Task EnqueueAsync_AcceptedCall_SurvivesReopeningTheFile()
    {
        await using (SqliteDeferralQueue queue = await SqliteDeferralQueue.OpenAsync(_path, CancellationToken.None))
        {
            await queue.EnqueueAsync(Call("a") with { Scope = "tenant=acme", Deadline = Now.AddHours(6) }, CancellationToken.None);
        }

        await using SqliteDeferralQueue reopened = await SqliteDeferralQueue.OpenAsync(_path, CancellationToken.None);
        DeferredCall call = (await reopened.GetAsync("a", CancellationToken.None))!;

        Assert.Equal(DeferredCallState.Queued, call.State);
        Assert.Equal("tenant=acme", call.Scope);
        Assert.Equal(Now.AddHours(6), call.Deadline);
        Assert.Equal(10, call.Body.Length);
    }

    [Fact]
    public async Task PeekQueuedAsync_OldestFirstWithinCountAndSize()
    {
        await using SqliteDeferralQueue queue = await SqliteDeferralQueue.OpenAsync(_path, CancellationToken.None);
        await queue.EnqueueAsync(Call("late", seconds: 5), CancellationToken.None);
        await queue.EnqueueAsync(Call("early", seconds: 1), CancellationToken.None);
        await queue.EnqueueAsync(Call("big", seconds: 2, bytes: 1_000), CancellationToken.None);

        IReadOnlyList<DeferredCall> two = await queue.PeekQueuedAsync("openai", "/v1/chat/completions", 2, long.MaxValue, CancellationToken.None);
        IReadOnlyList<DeferredCall> small = await queue.PeekQueuedAsync("openai", "/v1/chat/completions", 10, 500, CancellationToken.None);

        Assert.Equal(["early", "big"], two.Select(c => c.Id));
        Assert.Equal(["early"], small.Select(c => c.Id));
        QueuedGroup group = Assert.Single(await queue.QueuedGroupsAsync(CancellationToken.None));
        Assert.Equal(3, group.Count);
        Assert.Equal(Now.AddSeconds(1), group.Oldest);
    }

    [Fact]
    public async Task BeginBatchAsync_TakesOnlyQueuedCalls_NeverTheSameCallTwice()
    {
        await using SqliteDeferralQueue queue = await SqliteDeferralQueue.OpenAsync(_path, CancellationToken.None);
        await queue.EnqueueAsync(Call("a"), CancellationToken.None);
        await queue.EnqueueAsync(Call("b"), CancellationToken.None);

        IReadOnlyList<string> first = await queue.BeginBatchAsync("b1", "openai", "/v1/chat/completions", ["a", "b"], Now, CancellationToken.None);
        IReadOnlyList<string> second = await queue.BeginBatchAsync("b2", "openai", "/v1/chat/completions", ["a", "b"], Now, CancellationToken.None);

        Assert.Equal(["a", "b"], first);
        Assert.Empty(second);
        Assert.Equal(DeferredCallState.Submitting, (await queue.GetAsync("a", CancellationToken.None))!.State);
        Assert.Equal(1, (await queue.GetAsync("a", CancellationToken.None))!.Attempts);
    }

    [Fact]
    public async Task CompleteAndDeliver_HappenExactlyOnce()
    {
        await using SqliteDeferralQueue queue = await SqliteDeferralQueue.OpenAsync(_path, CancellationToken.None);
        await queue.EnqueueAsync(Call("a"), CancellationToken.None);
        _ = await queue.BeginBatchAsync("b1", "openai", "/v1/chat/completions", ["a"], Now, CancellationToken.None);
        await queue.MarkSubmittedAsync("b1", "batch_1", CancellationToken.None);

        bool completed = await queue.CompleteAsync("a", [1, 2, 3], error: null, CancellationToken.None);
        bool again = await queue.CompleteAsync("a", [9], error: null, CancellationToken.None);
        bool delivered = await queue.MarkDeliveredAsync("a", CancellationToken.None);
        bool deliveredAgain = await queue.MarkDeliveredAsync("a", CancellationToken.None);

        Assert.True(completed);
        Assert.False(again);
        Assert.True(delivered);
        Assert.False(deliveredAgain);
        DeferredCall call = (await queue.GetAsync("a", CancellationToken.None))!;
        Assert.Equal(DeferredCallState.Delivered, call.State);
        Assert.Equal([1, 2, 3], call.Result);
    }

    [Fact]
    public async Task AbandonAndRequeue_PutCallsBackInTheQueue()
    {
        await using SqliteDeferralQueue queue = await SqliteDeferralQueue.OpenAsync(_path, CancellationToken.None);
        await queue.EnqueueAsync(Call("a"), CancellationToken.None);
        await queue.EnqueueAsync(Call("b"), CancellationToken.None);
        _ = await queue.BeginBatchAsync("b1", "openai", "/v1/chat/completions", ["a"], Now, CancellationToken.None);
        _ = await queue.BeginBatchAsync("b2", "openai", "/v1/chat/completions", ["b"], Now, CancellationToken.None);
        await queue.MarkSubmittedAsync("b2", "batch_2", CancellationToken.None);

        await queue.AbandonBatchAsync("b1", CancellationToken.None);
        bool requeued = await queue.RequeueAsync("b", CancellationToken.None);

        Assert.True(requeued);
        Assert.Equal(2, (await queue.PeekQueuedAsync("openai", "/v1/chat/completions", 10, long.MaxValue, CancellationToken.None)).Count);
        OpenBatch open = Assert.Single(await queue.OpenBatchesAsync(CancellationToken.None));
        Assert.Equal("batch_2", open.ProviderBatchId);
    }
}

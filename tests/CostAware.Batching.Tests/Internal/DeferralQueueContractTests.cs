using System.Text;
using CostAware.Batching.Internal;
using CostAware.Batching.OpenAI.Internal;
using CostAware.Batching.Anthropic.Internal;
using CostAware.Shared;

namespace CostAware.Batching.Tests.Internal;

// What every deferral queue must do (SQLite here, Redis in CostAware.Redis.Tests, which links this file).
public abstract class DeferralQueueContractTests
{
    private static readonly DateTimeOffset Now = new(2026, 11, 24, 2, 0, 0, TimeSpan.Zero);
    // A queue over the same storage each time: a second call stands for another process or machine.
    internal abstract Task<IDeferralQueue> OpenAsync();

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
        using (IDeferralQueue queue = await OpenAsync())
        {
            await queue.EnqueueAsync(Call("a") with { Scope = "tenant=acme", Deadline = Now.AddHours(6) }, CancellationToken.None);
        }

        using IDeferralQueue reopened = await OpenAsync();
        DeferredCall call = (await reopened.GetAsync("a", CancellationToken.None))!;

        Assert.Equal(DeferredCallState.Queued, call.State);
        Assert.Equal("tenant=acme", call.Scope);
        Assert.Equal(Now.AddHours(6), call.Deadline);
        Assert.Equal(10, call.Body.Length);
    }

    [Fact]
    public async Task PeekQueuedAsync_OldestFirstWithinCountAndSize()
    {
        using IDeferralQueue queue = await OpenAsync();
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
        using IDeferralQueue queue = await OpenAsync();
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
        using IDeferralQueue queue = await OpenAsync();
        await queue.EnqueueAsync(Call("a"), CancellationToken.None);
        _ = await queue.BeginBatchAsync("b1", "openai", "/v1/chat/completions", ["a"], Now, CancellationToken.None);
        await queue.MarkSubmittedAsync("b1", "batch_1", CancellationToken.None);

        bool completed = await queue.CompleteAsync("a", [1, 2, 3], failure: null, CancellationToken.None);
        bool again = await queue.CompleteAsync("a", [9], failure: null, CancellationToken.None);
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
    public async Task TwoQueuesOnTheSameStorage_NeverTakeACallTwice()
    {
        using IDeferralQueue one = await OpenAsync();
        using IDeferralQueue two = await OpenAsync();
        for (int i = 0; i < 40; i++)
        {
            await one.EnqueueAsync(Call($"c{i:D2}", seconds: i), CancellationToken.None);
        }

        string[] ids = [.. Enumerable.Range(0, 40).Select(i => $"c{i:D2}")];
        IReadOnlyList<string>[] taken = await Task.WhenAll(
            one.BeginBatchAsync("b1", "openai", "/v1/chat/completions", ids, Now, CancellationToken.None),
            two.BeginBatchAsync("b2", "openai", "/v1/chat/completions", ids, Now, CancellationToken.None));

        Assert.Equal(40, taken[0].Count + taken[1].Count);
        Assert.Empty(taken[0].Intersect(taken[1]));
        Assert.Empty(await one.QueuedGroupsAsync(CancellationToken.None));
    }

    [Fact]
    public async Task AbandonAndRequeue_PutCallsBackInTheQueue()
    {
        using IDeferralQueue queue = await OpenAsync();
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

using Microsoft.Extensions.AI;

namespace CostAware.Abstractions.Tests.Receipts;

public class CostCallContextTests
{
    private static readonly TimeProvider Clock = TimeProvider.System;

    [Fact]
    public void FindOrOpen_NoContext_OpensOneForTheResolvedScope()
    {
        CostCallContext context = CostCallContext.FindOrOpen(new ChatOptions().WithCostScope(new CostScope { Tenant = "acme" }), Clock, out bool opened);

        Assert.True(opened);
        Assert.Equal("acme", context.Scope.Tenant);
        Assert.Same(context.Scope, context.Receipt.Scope);
    }

    [Fact]
    public void Forward_InnerStageFindsTheSameContext_CallerOptionsUntouched()
    {
        ChatOptions caller = new ChatOptions { Temperature = 0 }.WithCostScope(new CostScope { Tenant = "acme" });
        CostCallContext context = CostCallContext.FindOrOpen(caller, Clock, out _);

        ChatOptions forwarded = context.Forward(caller);

        Assert.NotSame(caller, forwarded);
        Assert.False(caller.AdditionalProperties!.ContainsKey(CostAwareProperties.CallContext));
        Assert.Same(context, CostCallContext.Find(forwarded));
        Assert.Same(context, CostCallContext.FindOrOpen(forwarded, Clock, out bool opened));
        Assert.False(opened);
        Assert.Equal(0, forwarded.Temperature);
    }

    [Fact]
    public void Find_ValuesACallerCanPutOnTheOptions_NeverTakenForAContext()
    {
        CostReceipt someoneElses = new(Guid.NewGuid(), new CostScope { Tenant = "victim" }, DateTimeOffset.UnixEpoch);
        ChatOptions planted = new()
        {
            AdditionalProperties = new()
            {
                [CostAwareProperties.Receipt] = someoneElses,
                [CostAwareProperties.CallContext] = "forged",
            },
        };

        Assert.Null(CostCallContext.Find(planted));
        CostCallContext context = CostCallContext.FindOrOpen(planted, Clock, out bool opened);
        Assert.True(opened);
        Assert.NotSame(someoneElses, context.Receipt);

        // Forwarding drops a planted receipt rather than passing it on.
        Assert.False(context.Forward(planted).AdditionalProperties!.ContainsKey(CostAwareProperties.Receipt));
    }

    [Fact]
    public void Find_ClosedContext_NotFound_NoMoreWorkMayBegin()
    {
        CostCallContext context = CostCallContext.FindOrOpen(null, Clock, out _);
        ChatOptions forwarded = context.Forward(null);

        context.Close();

        Assert.Null(CostCallContext.Find(forwarded));
        _ = Assert.Throws<InvalidOperationException>(() => context.BeginWork());
    }

    [Fact]
    public async Task WhenIdleAsync_CompletesWhenTheLastWorkEnds()
    {
        CostCallContext context = CostCallContext.FindOrOpen(null, Clock, out _);
        Assert.True(context.WhenIdleAsync().IsCompleted);

        IDisposable first = context.BeginWork();
        IDisposable second = context.BeginWork();
        Task idle = context.WhenIdleAsync();
        first.Dispose();
        first.Dispose();
        Assert.False(idle.IsCompleted);
        Assert.True(context.HasPendingWork);

        second.Dispose();
        await idle;
        Assert.False(context.HasPendingWork);
    }

    [Fact]
    public async Task AdmitProviderCallAsync_EveryBudgetAdmits_OneRefusalReleasesTheOthers()
    {
        CostCallContext context = CostCallContext.FindOrOpen(null, Clock, out _);
        FakeBudget admits = new(refuse: false);
        FakeBudget refuses = new(refuse: true);
        context.AddBudget(admits);
        context.AddBudget(refuses);

        _ = await Assert.ThrowsAsync<BudgetExceededException>(() => context.AdmitProviderCallAsync([], null, "m", batch: false, CancellationToken.None).AsTask());

        Assert.Equal(1, admits.Admitted);
        Assert.Equal(1, admits.Released);
        Assert.Equal(5m, await context.GetRemainingBudgetAsync(CancellationToken.None));
    }

    [Fact]
    public void MarkCostUnaccounted_FirstReasonKept()
    {
        CostCallContext context = CostCallContext.FindOrOpen(null, Clock, out _);
        Assert.Null(context.UnaccountedCostReason);

        context.MarkCostUnaccounted("deferred");
        context.MarkCostUnaccounted("other");

        Assert.Equal("deferred", context.UnaccountedCostReason);
    }

    private sealed class FakeBudget(bool refuse) : ICostCallBudget
    {
        public int Admitted;
        public int Released;

        public bool IsCacheOnly => false;

        public ValueTask<decimal?> GetRemainingAsync(CancellationToken cancellationToken) => new(refuse ? 5m : 9m);

        public ValueTask<IDisposable> AdmitProviderCallAsync(
            CostCallContext context, IEnumerable<ChatMessage> messages, ChatOptions? options, string? modelId, bool batch, CancellationToken cancellationToken)
        {
            if (refuse)
            {
                throw new BudgetExceededException();
            }

            Admitted++;
            return new ValueTask<IDisposable>(new Lease(this));
        }

        private sealed class Lease(FakeBudget owner) : IDisposable
        {
            public void Dispose() => owner.Released++;
        }
    }
}

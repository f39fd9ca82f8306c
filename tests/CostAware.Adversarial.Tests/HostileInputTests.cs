using Microsoft.Extensions.AI;

namespace CostAware.Adversarial.Tests;

// Requests built to break the accounting: bad values under CostAware's keys, options lifted from inside another
// tenant's call, malformed messages and thresholds. Each is refused or ignored, and leaves nothing reserved.
public sealed class HostileInputTests
{
    private const string Tenant = "acme";

    private static Harness Full() => Harness.Create(
        Harness.TenantBudget(0.01m), b => b.UseBudget().UsePromptCache().UseSemanticCache().UseTokenMetering());

    [Fact]
    public async Task OptionsLiftedFromInsideAnotherTenantsCall_TheirContextIsClosed_NoEffect()
    {
        // A stage of the app's own, inside the pipeline, keeps the options it saw (as a careless logger might).
        ChatOptions? lifted = null;
        await using Harness app = Harness.Create(
            Harness.TenantBudget(0.01m),
            b => b.UseBudget().UsePromptCache().Use((m, o, next, ct) => { lifted ??= o; return next(m, o, ct); }).UseTokenMetering());
        ChatResponse victims = await app.Client.GetResponseAsync("the victim's question", Harness.For("victim"));

        ChatOptions replay = lifted!.Clone();
        replay.AdditionalProperties = new(lifted.AdditionalProperties!) { [CostAwareProperties.Scope] = new CostScope { Tenant = "attacker" } };
        ChatResponse attackers = await app.Client.GetResponseAsync("the victim's question", replay);

        Assert.Equal("attacker", attackers.GetCostReceipt()!.Scope.Tenant);
        Assert.NotSame(victims.GetCostReceipt(), attackers.GetCostReceipt());
        _ = Assert.Single(victims.GetCostReceipt()!.Entries);
        Assert.Equal(2, app.Provider.BilledCalls);
        Assert.Equal(attackers.GetCostReceipt()!.Spent, (await app.SettledAsync("attacker")).Spent);
    }

    [Theory]
    [InlineData(CostAwareProperties.Scope)]
    [InlineData(CostAwareProperties.Deferral)]
    [InlineData(CostAwareProperties.CacheControl)]
    public async Task WrongTypeUnderACostAwareKey_Refused_NothingReserved(string key)
    {
        await using Harness app = Full();
        ChatOptions options = Harness.For(Tenant);
        options.AdditionalProperties![key] = "not the right type";

        if (key == CostAwareProperties.Scope)
        {
            options = new ChatOptions { ModelId = BillingProvider.Model, AdditionalProperties = new() { [key] = "acme" } };
        }

        _ = await Assert.ThrowsAsync<ArgumentException>(() => app.Client.GetResponseAsync("q", options));
        _ = await Assert.ThrowsAsync<ArgumentException>(() => MoneyGuaranteeRegressionTests.Collect(app.Client.GetStreamingResponseAsync("q", options)));

        Assert.Equal(0, app.Provider.Started);
        Assert.Equal(0m, (await app.SettledAsync(Tenant, TimeSpan.FromSeconds(1))).Reserved);
    }

    [Fact]
    public async Task NotANumberSimilarityThreshold_Streamed_RefusedAndReservationReleased()
    {
        await using Harness app = Full();
        ChatOptions options = Harness.For(Tenant, maxOutput: 16_000).WithCacheControl(new CacheControl { SimilarityThreshold = float.NaN });

        for (int i = 0; i < 20; i++)
        {
            _ = await Assert.ThrowsAsync<ArgumentException>(() => MoneyGuaranteeRegressionTests.Collect(app.Client.GetStreamingResponseAsync($"q{i}", options)));
        }

        Assert.Equal(0m, (await app.SettledAsync(Tenant, TimeSpan.FromSeconds(1))).Reserved);
        Assert.Equal(0, app.Provider.Started);
    }

    [Fact]
    public async Task NullContentItem_RefusedWithoutHoldingTheBudget()
    {
        await using Harness app = Full();
        ChatMessage[] messages = [new ChatMessage(ChatRole.User, [new TextContent("hello"), null!])];

        _ = await Assert.ThrowsAnyAsync<Exception>(() => app.Client.GetResponseAsync(messages, Harness.For(Tenant)));
        _ = await Assert.ThrowsAnyAsync<Exception>(() => MoneyGuaranteeRegressionTests.Collect(app.Client.GetStreamingResponseAsync(messages, Harness.For(Tenant))));

        Assert.Equal(0m, (await app.SettledAsync(Tenant, TimeSpan.FromSeconds(1))).Reserved);
        Assert.Equal(0, app.Provider.Started);
    }

    [Fact]
    public async Task HugeMaxOutputTokens_ReservedAtTheModelsOwnLimit()
    {
        // gpt-4o-mini writes at most 16,384 tokens: a request for two billion cannot pin more than that.
        await using Harness app = Harness.Create(Harness.TenantBudget(0.011m), b => b.UseBudget().UseTokenMetering());

        ChatResponse response = await app.Client.GetResponseAsync("q", Harness.For(Tenant, maxOutput: int.MaxValue));

        Assert.True(response.GetCostReceipt()!.Spent > 0m);
        Assert.Equal(app.Provider.Billed, (await app.SettledAsync(Tenant)).Spent);
    }
}

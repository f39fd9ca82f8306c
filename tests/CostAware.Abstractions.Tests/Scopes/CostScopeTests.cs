using Microsoft.Extensions.AI;

namespace CostAware.Tests.Scopes;

public class CostScopeTests
{
    [Fact]
    public void Merge_OverridesWinFieldByField()
    {
        CostScope ambient = new() { Tenant = "acme", Feature = "search", Agent = "planner" };
        CostScope perCall = new() { Feature = "summary", User = "u1" };

        CostScope merged = ambient.Merge(perCall);

        Assert.Equal(new CostScope { Tenant = "acme", Feature = "summary", Agent = "planner", User = "u1" }, merged);
        Assert.Same(ambient, ambient.Merge(null));
        Assert.Same(ambient, ambient.Merge(CostScope.None));
        Assert.Same(perCall, CostScope.None.Merge(perCall));
    }

    [Fact]
    public void Matches_SetDimensionsMustBeEqual()
    {
        CostScope scope = new() { Tenant = "acme", User = "u1" };

        Assert.True(scope.Matches(CostScope.None));
        Assert.True(scope.Matches(new CostScope { Tenant = "acme" }));
        Assert.False(scope.Matches(new CostScope { Tenant = "ACME" }));
        Assert.False(scope.Matches(new CostScope { Tenant = "acme", Agent = "a" }));
    }

    [Fact]
    public async Task ResolveCostScope_AmbientAndPerCall_PerCallWins()
    {
        ChatOptions options = new ChatOptions().WithCostScope(new CostScope { User = "u2" });
        using (AmbientCostScope.Begin(new CostScope { Tenant = "acme", User = "u1" }))
        {
            await Task.Yield();
            Assert.Equal(new CostScope { Tenant = "acme", User = "u2" }, options.ResolveCostScope());
            using (AmbientCostScope.Begin(new CostScope { Workflow = "wf" }))
            {
                Assert.Equal(new CostScope { Tenant = "acme", User = "u1", Workflow = "wf" }, ((ChatOptions?)null).ResolveCostScope());
            }

            Assert.Equal(new CostScope { Tenant = "acme", User = "u1" }, AmbientCostScope.Current);
        }

        Assert.Null(AmbientCostScope.Current);
        Assert.Same(CostScope.None, ((ChatOptions?)null).ResolveCostScope());
    }

    [Fact]
    public void WithCostScope_NullArguments_Throw()
    {
        Assert.Throws<ArgumentNullException>(() => ((ChatOptions)null!).WithCostScope(CostScope.None));
        Assert.Throws<ArgumentNullException>(() => new ChatOptions().WithCostScope(null!));
        Assert.Throws<ArgumentNullException>(() => AmbientCostScope.Begin(null!));
    }

    [Fact]
    public void Get_EachDimension_ReturnsItsField()
    {
        CostScope scope = new() { Tenant = "t", User = "u", ApiKey = "k", Agent = "a", Workflow = "w", Feature = "f" };

        Assert.Equal(["t", "u", "k", "a", "w", "f"], Enum.GetValues<CostScopeDimension>().Select(scope.Get));
        _ = Assert.Throws<ArgumentOutOfRangeException>(() => scope.Get((CostScopeDimension)99));
    }
}

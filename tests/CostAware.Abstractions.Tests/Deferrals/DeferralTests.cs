using Microsoft.Extensions.AI;

namespace CostAware.Tests.Deferrals;

public class DeferralTests
{
    [Fact]
    public void WithDeferral_RoundTripsOnTheOptions()
    {
        DateTimeOffset deadline = new(2026, 11, 25, 6, 0, 0, TimeSpan.Zero);
        ChatOptions options = new ChatOptions().WithDeferral(new Deferral { Deadline = deadline });

        Assert.Equal(deadline, options.GetDeferral()!.Deadline);
        Assert.Equal("caller", options.GetDeferral()!.RequestedBy);
        Assert.Null(new ChatOptions().GetDeferral());
        Assert.Null(((ChatOptions?)null).GetDeferral());
        Assert.Null(Deferral.Unbounded.Deadline);
        _ = Assert.Throws<ArgumentNullException>(() => new ChatOptions().WithDeferral(null!));
    }
}

namespace CostAware.Tests.Exceptions;

public class BudgetExceededExceptionTests
{
    [Fact]
    public void Constructor_MoneyLimit_MessageNamesEverythingTheCallerNeeds()
    {
        BudgetExceededException ex = new(
            "tenant-monthly", "tenant=acme,feature=chat", BudgetWindow.Month, new DateTimeOffset(2026, 12, 1, 0, 0, 0, TimeSpan.FromHours(1)), 100m, 99.5m, 0.25m, 0.5m, null, 1234);

        Assert.Equal(
            "Budget 'tenant-monthly' for tenant=acme,feature=chat has no room for this call: limit 100, spent 99.5, reserved by calls in flight 0.25, this call may cost up to 0.5 (1234 calls so far); the month window resets at 2026-12-01T00:00:00+01:00.",
            ex.Message);
        Assert.False(ex.IsCallLimit);
        Assert.IsAssignableFrom<CostAwareException>(ex);
    }

    [Fact]
    public void Constructor_CallLimitWithRoomForTheMoney_IsCallLimit()
    {
        BudgetExceededException ex = new("agent-run", "workflow=run-7", BudgetWindow.Lifetime, null, 2m, 1.25m, 0m, 0.01m, 50, 50);

        Assert.True(ex.IsCallLimit);
        Assert.Equal(
            "Budget 'agent-run' for workflow=run-7 allows 50 calls and 50 have been made, costing 1.25 so far; it is a lifetime budget and does not reset.",
            ex.Message);
    }

    [Fact]
    public void Constructor_StandardOverloads_LeaveDataEmpty()
    {
        BudgetExceededException ex = new("custom", new InvalidOperationException());

        Assert.Equal(string.Empty, ex.BudgetName);
        Assert.Null(ex.Limit);
        Assert.IsType<InvalidOperationException>(ex.InnerException);
        Assert.Equal("The budget store cannot be reached.", new BudgetStoreUnavailableException().Message);
    }
}

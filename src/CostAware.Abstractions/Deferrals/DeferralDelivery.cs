namespace CostAware;

/// <summary>How the answer to a deferred call reaches its caller.</summary>
public enum DeferralDelivery
{
    /// <summary>The call's task completes when the batch result arrives (minutes to hours): for background jobs.</summary>
    Await = 0,

    /// <summary>
    /// The call returns at once with a ticket id (<c>CostAwareProperties.BatchTicket</c>); the answer is fetched
    /// later by ticket, or handed to the registered result handler, also after a restart.
    /// </summary>
    Ticket = 1,
}

namespace CostAware;

/// <summary>
/// A call's permission to wait: it may be sent to a provider's batch API at the batch discount instead of being
/// answered now. Set with <see cref="CostAwareChatOptionsExtensions.WithDeferral(Microsoft.Extensions.AI.ChatOptions, Deferral)"/>.
/// </summary>
/// <remarks>
/// The mark does nothing by itself: the batch-deferral stage acts on it, and without that stage in the pipeline the
/// call is made as usual. Instances are immutable and safe to share between threads.
/// </remarks>
public sealed record class Deferral
{
    /// <summary>Gets a deferral with no deadline: the call may wait as long as the provider's batch window.</summary>
    public static Deferral Unbounded { get; } = new();

    /// <summary>Gets the time by which the answer is needed, or <see langword="null"/> for no deadline.</summary>
    /// <value>The default value is <see langword="null"/>.</value>
    public DateTimeOffset? Deadline { get; init; }

    /// <summary>Gets how the answer reaches the caller.</summary>
    /// <value>The default value is <see cref="DeferralDelivery.Await"/>.</value>
    public DeferralDelivery Delivery { get; init; }

    /// <summary>Gets who asked for the deferral: <c>caller</c>, or <c>budget:</c> and the budget's name when a budget degraded the call.</summary>
    /// <value>The default value is <c>caller</c>.</value>
    public string RequestedBy { get; init; } = "caller";
}

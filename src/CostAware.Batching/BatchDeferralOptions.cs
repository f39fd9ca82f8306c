using System.ComponentModel.DataAnnotations;

namespace CostAware;

/// <summary>Options of the batch-deferral stage (<see cref="BatchDeferralChatClient"/>) and its scheduler.</summary>
/// <remarks>
/// Bound from the <c>CostAware:Batching</c> configuration section by <c>AddCostAwareBatching</c>. This type is a
/// mutable bag for configuration; it is not thread-safe, and the stage copies what it needs when it starts.
/// </remarks>
public sealed class BatchDeferralOptions
{
    /// <summary>Gets or sets the SQLite file that holds deferred calls until their answers are delivered.</summary>
    /// <value>
    /// The default value is <c>costaware-deferred.db</c>. A relative path is resolved against the app's own folder
    /// (<see cref="AppContext.BaseDirectory"/>), not the working directory, so that a restarted app finds the calls a crash
    /// left, however it is started. Do not delete the file while the app runs; if it is deleted, the queue restores it
    /// from the file it still holds open and logs an error.
    /// </value>
    [Required]
    public string QueuePath { get; set; } = "costaware-deferred.db";

    /// <summary>Gets or sets the most calls in one provider batch (the provider's own limit applies too: OpenAI 50,000, Anthropic 100,000).</summary>
    /// <value>The default value is 10,000.</value>
    [Range(1, 100_000)]
    public int MaxBatchRequests { get; set; } = 10_000;

    /// <summary>Gets or sets how long the oldest queued call waits for others before its batch is submitted.</summary>
    /// <value>The default value is 5 minutes.</value>
    [Range(typeof(TimeSpan), "00:00:00", "1.00:00:00")]
    public TimeSpan MaxWait { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>
    /// Gets or sets how long a call that is alone in the queue waits for company: a batch of one is never submitted
    /// before this, unless the call's deadline requires it.
    /// </summary>
    /// <value>The default value is 1 hour.</value>
    [Range(typeof(TimeSpan), "00:00:00", "7.00:00:00")]
    public TimeSpan MaxWaitAlone { get; set; } = TimeSpan.FromHours(1);

    /// <summary>
    /// Gets or sets how long a batch may take: a call whose deadline is sooner than this is sent synchronously, and a
    /// queued call is submitted no later than its deadline minus this.
    /// </summary>
    /// <value>The default value is 24 hours, the providers' batch window.</value>
    [Range(typeof(TimeSpan), "00:01:00", "2.00:00:00")]
    public TimeSpan ExpectedBatchLatency { get; set; } = TimeSpan.FromHours(24);

    /// <summary>Gets or sets the first interval between two status polls of a batch; it doubles up to <see cref="MaxPollInterval"/>.</summary>
    /// <value>The default value is 30 seconds.</value>
    [Range(typeof(TimeSpan), "00:00:00.010", "01:00:00")]
    public TimeSpan PollInterval { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Gets or sets the longest interval between two status polls of a batch.</summary>
    /// <value>The default value is 10 minutes.</value>
    [Range(typeof(TimeSpan), "00:00:00.010", "1.00:00:00")]
    public TimeSpan MaxPollInterval { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>
    /// Gets or sets how many batches a call may go through: a call that its batch did not answer (expired, cancelled)
    /// is queued again until then, and fails after.
    /// </summary>
    /// <value>The default value is 3.</value>
    [Range(1, 100)]
    public int MaxAttempts { get; set; } = 3;

    /// <summary>
    /// Gets or sets scopes whose calls are always deferred, as dimension values a call's scope must all have (for
    /// example <c>{ Feature: "nightly-report" }</c>), whether or not the call is marked.
    /// </summary>
    /// <value>The default value is empty: only calls marked with <c>WithDeferral</c> are deferred.</value>
    public IList<Dictionary<CostScopeDimension, string>> DeferScopes { get; set; } = [];

    /// <summary>
    /// Gets or sets this node's name in a shared (Redis) queue: an awaited call whose caller went away is handed to
    /// <see cref="OnResult"/> only on the node that accepted it, so that a caller waiting on another node keeps its
    /// answer. Keep it stable across restarts of the same node.
    /// </summary>
    /// <value>The default value is the machine name.</value>
    [Required]
    public string NodeName { get; set; } = Environment.MachineName;

    /// <summary>Gets or sets a value indicating whether receipts of deferred calls delivered by ticket or handler are recorded to the <see cref="ICostLedger"/>.</summary>
    /// <value>The default value is <see langword="true"/>.</value>
    public bool RecordToLedger { get; set; } = true;

    /// <summary>
    /// Gets or sets the handler of answers that no caller is awaiting: calls deferred with
    /// <see cref="DeferralDelivery.Ticket"/>, and calls whose caller went away (a restart). Make it idempotent on the
    /// ticket: a crash after it returns but before the delivery is recorded hands it the same answer again.
    /// </summary>
    /// <value>The default value is <see langword="null"/>: such answers wait to be fetched by ticket.</value>
    public Func<DeferredResultArguments, ValueTask>? OnResult { get; set; }

    internal BatchDeferralOptions Clone()
    {
        BatchDeferralOptions copy = (BatchDeferralOptions)MemberwiseClone();
        copy.DeferScopes = [.. DeferScopes.Select(static d => new Dictionary<CostScopeDimension, string>(d))];
        return copy;
    }
}

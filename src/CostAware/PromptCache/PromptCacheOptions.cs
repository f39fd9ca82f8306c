using System.ComponentModel.DataAnnotations;

namespace CostAware;

/// <summary>Options of the <see cref="PromptCacheChatClient"/> stage.</summary>
/// <remarks>
/// Bound from the <c>CostAware:PromptCache</c> configuration section by <c>AddCostAware</c>; <c>UsePromptCache</c> starts
/// from those values and applies its own <c>configure</c> callback to a copy. This type is a mutable bag for
/// configuration; it is not thread-safe, and the stage copies what it needs when it is built.
/// </remarks>
public sealed class PromptCacheOptions
{
    /// <summary>Gets or sets how long a stored answer is kept, unless a request sets its own <see cref="CacheControl.TimeToLive"/>.</summary>
    /// <value>The default value is one hour.</value>
    [Range(typeof(TimeSpan), "00:00:01", "365.00:00:00")]
    public TimeSpan TimeToLive { get; set; } = TimeSpan.FromHours(1);

    /// <summary>
    /// Gets or sets how long an answer stays in this process's memory (HybridCache L1), or <see langword="null"/> to keep
    /// it as long as <see cref="TimeToLive"/>. Never longer than the entry's time to live.
    /// </summary>
    /// <value>The default value is <see langword="null"/>.</value>
    [Range(typeof(TimeSpan), "00:00:01", "365.00:00:00")]
    public TimeSpan? LocalTimeToLive { get; set; }

    /// <summary>Gets or sets the prefix of every key and tag this stage writes, so that its entries never meet the app's own.</summary>
    /// <value>The default value is <c>costaware:prompt</c>.</value>
    [Required]
    [RegularExpression(@"^[\x21-\x7E]{1,64}$", ErrorMessage = "The KeyPrefix field must be 1 to 64 printable ASCII characters without spaces.")]
    public string KeyPrefix { get; set; } = "costaware:prompt";

    /// <summary>Gets or sets the hash used for keys.</summary>
    /// <value>The default value is <see cref="PromptCacheKeyAlgorithm.XxHash128"/>.</value>
    [EnumDataType(typeof(PromptCacheKeyAlgorithm))]
    public PromptCacheKeyAlgorithm KeyAlgorithm { get; set; } = PromptCacheKeyAlgorithm.XxHash128;

    /// <summary>
    /// Gets or sets the names of partitions that every tenant may share (see <see cref="CacheControl.SharedPartition"/>).
    /// A request naming a partition not listed here is refused.
    /// </summary>
    /// <value>The default value is empty: every tenant reads and writes only its own entries.</value>
    public IList<string> SharedPartitions { get; set; } = [];

    /// <summary>Gets or sets a value indicating whether a streamed answer is stored as one coalesced response (<see langword="true"/>) or as the original sequence of updates.</summary>
    /// <value>The default value is <see langword="true"/>: smaller entries, and a streamed hit replays as one update per message.</value>
    public bool CoalesceStreamingUpdates { get; set; } = true;

    /// <summary>
    /// Gets or sets a value indicating whether answers that request tool calls are stored. Such an answer is only
    /// correct if the app's tools would behave the same way next time, so they are not stored unless you opt in.
    /// </summary>
    /// <value>The default value is <see langword="false"/>.</value>
    public bool CacheToolCallResponses { get; set; }

    /// <summary>Gets or sets a value indicating whether receipts opened by this stage (hits, and misses it forwarded) are recorded to the <see cref="ICostLedger"/>.</summary>
    /// <value>The default value is <see langword="true"/>.</value>
    public bool RecordToLedger { get; set; } = true;

    /// <summary>Gets or sets a value indicating whether cache metrics carry the cost scope's dimensions.</summary>
    /// <value>
    /// The default value is <see langword="false"/>: tenant, user and API key ids are not metric tags, since they multiply
    /// the series a metrics back end stores and leave the process; per-scope money lives in the cost ledger. Turn it on
    /// only for a small, known set of scope values.
    /// </value>
    public bool IncludeScopeInMetrics { get; set; }

    internal PromptCacheOptions Clone()
    {
        PromptCacheOptions copy = (PromptCacheOptions)MemberwiseClone();
        copy.SharedPartitions = [.. SharedPartitions];
        return copy;
    }
}

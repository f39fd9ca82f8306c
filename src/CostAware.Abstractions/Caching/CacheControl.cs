namespace CostAware;

/// <summary>
/// Per-request control of CostAware's caches, set on <see cref="Microsoft.Extensions.AI.ChatOptions"/> with
/// <see cref="CostAwareChatOptionsExtensions.WithCacheControl"/>.
/// </summary>
/// <remarks>
/// <para>
/// Unset members leave the cache stage's own options in force. A request that carries a
/// <see cref="Microsoft.Extensions.AI.ChatOptions.ConversationId"/> bypasses the caches whatever is set here: its answer
/// depends on state held by the provider, which the request does not show.
/// </para>
/// <para>Instances are immutable and safe to share between threads.</para>
/// </remarks>
public sealed record class CacheControl
{
    /// <summary>Gets a control that skips the cache read: the provider is called and its answer stored.</summary>
    public static CacheControl NoCache { get; } = new() { SkipRead = true };

    /// <summary>Gets a control that skips the cache write: a stored answer may be served, a new one is not kept.</summary>
    public static CacheControl NoStore { get; } = new() { SkipWrite = true };

    /// <summary>Gets a control that bypasses the cache entirely: no read, no write.</summary>
    public static CacheControl Bypass { get; } = new() { SkipRead = true, SkipWrite = true };

    /// <summary>Gets a value indicating whether the cache read is skipped (the request always reaches the provider).</summary>
    /// <value>The default value is <see langword="false"/>.</value>
    public bool SkipRead { get; init; }

    /// <summary>Gets a value indicating whether the answer is not stored.</summary>
    /// <value>The default value is <see langword="false"/>.</value>
    public bool SkipWrite { get; init; }

    /// <summary>Gets how long an answer stored by this request is kept, or <see langword="null"/> for the stage's default.</summary>
    /// <value>The default value is <see langword="null"/>.</value>
    public TimeSpan? TimeToLive { get; init; }

    /// <summary>
    /// Gets the name of a shared partition to read and write instead of the tenant's own, or <see langword="null"/> to
    /// stay within the tenant.
    /// </summary>
    /// <value>The default value is <see langword="null"/>.</value>
    /// <remarks>
    /// Entries in a shared partition are served to every tenant that names it, so use one only for answers that are
    /// the same for everyone (a public FAQ, product documentation). The cache stage refuses a name that its options
    /// do not list as shared.
    /// </remarks>
    public string? SharedPartition { get; init; }

    /// <summary>
    /// Gets the least cosine similarity, in [-1, 1], at which the semantic cache may serve a stored answer to this
    /// request, or <see langword="null"/> for the stage's threshold. The exact prompt cache ignores it.
    /// </summary>
    /// <value>The default value is <see langword="null"/>.</value>
    /// <remarks>Raise it for a request where a near miss would be costly; 1 serves only answers to the same text.</remarks>
    public float? SimilarityThreshold { get; init; }
}

using System.ComponentModel.DataAnnotations;

namespace CostAware;

/// <summary>Options of the <see cref="SemanticCacheChatClient"/> stage.</summary>
/// <remarks>
/// Bound from the <c>CostAware:SemanticCache</c> configuration section by <c>AddCostAwareSemanticCache</c>;
/// <c>UseSemanticCache</c> starts from those values and applies its own <c>configure</c> callback to a copy. Not
/// thread-safe; the stage copies what it needs when it is built.
/// </remarks>
public sealed class SemanticCacheOptions
{
    /// <summary>
    /// Gets or sets the least cosine similarity, in [-1, 1] (higher = closer), at which a stored answer is served
    /// for a different text. A request may set its own with <see cref="CacheControl.SimilarityThreshold"/>.
    /// </summary>
    /// <value>
    /// The default value is 0.9. It suits the default <see cref="LexicalEmbeddingGenerator"/>; each embedding model has
    /// its own scale, so calibrate it for yours (<c>docs/semantic-cache.md</c> shows how, and the measured trade-off).
    /// </value>
    [Range(-1.0, 1.0)]
    public float SimilarityThreshold { get; set; } = 0.9f;

    /// <summary>
    /// Gets or sets the share of served answers that may be wrong, in (0, 0.5], turning on the <b>error-bounded mode</b>:
    /// instead of one static threshold, the stage learns from verifications where serving is safe, stage-wide and per
    /// entry, and serves by meaning only where the measured wrong share (its 99 % upper bound) is within this rate.
    /// </summary>
    /// <value>
    /// The default value is <see langword="null"/>: the static <see cref="SimilarityThreshold"/> decides. With a rate
    /// set, <see cref="SimilarityThreshold"/>, <see cref="PartitionThresholds"/> and <see cref="Guards"/> are not used;
    /// <see cref="MinimumSimilarity"/>, <see cref="VerificationRate"/> and <see cref="AnswerEquivalence"/> are. Until enough
    /// verifications exist (about 2.33² / rate of them above the learned threshold: 535 at 1 %), nothing is served by
    /// meaning. See <c>docs/semantic-cache.md</c>.
    /// </value>
    [Range(0.0001, 0.5)]
    public float? MaxErrorRate { get; set; }

    /// <summary>
    /// Gets or sets, in error-bounded mode, the least cosine similarity at which the nearest stored answer is a candidate
    /// (verified or served); below it the call is a plain miss.
    /// </summary>
    /// <value>The default value is 0.5.</value>
    [Range(-1.0, 1.0)]
    public float MinimumSimilarity { get; set; } = 0.5f;

    /// <summary>
    /// Gets or sets, in error-bounded mode, the share of would-be hits that are verified anyway (the provider answers
    /// and the answers are compared), so the bound follows the traffic; their saving is forgone.
    /// </summary>
    /// <value>The default value is 0.05.</value>
    [Range(0.0, 1.0)]
    public float VerificationRate { get; set; } = 0.05f;

    /// <summary>Gets or sets, in error-bounded mode, how a verification decides whether the stored and the fresh answer are the same.</summary>
    /// <value>The default value is <see cref="SemanticAnswerEquivalence.NormalizedText"/> (strict: it may only understate what the cache can serve).</value>
    [EnumDataType(typeof(SemanticAnswerEquivalence))]
    public SemanticAnswerEquivalence AnswerEquivalence { get; set; } = SemanticAnswerEquivalence.NormalizedText;

    /// <summary>Gets or sets the least cosine similarity of the two answers' embeddings at which <see cref="SemanticAnswerEquivalence.Embedding"/> counts them the same.</summary>
    /// <value>The default value is 0.95.</value>
    [Range(-1.0, 1.0)]
    public float AnswerSimilarityThreshold { get; set; } = 0.95f;

    /// <summary>
    /// Gets or sets thresholds for particular partitions, by tenant id (<see cref="CostScope.Tenant"/>) or shared
    /// partition name, overriding <see cref="SimilarityThreshold"/>.
    /// </summary>
    /// <value>The default value is empty.</value>
    public IDictionary<string, float> PartitionThresholds { get; set; } = new Dictionary<string, float>(StringComparer.Ordinal);

    /// <summary>Gets or sets which requests are matched by meaning.</summary>
    /// <value>The default value is <see cref="SemanticMatchScope.FirstUserTurn"/>.</value>
    [EnumDataType(typeof(SemanticMatchScope))]
    public SemanticMatchScope MatchScope { get; set; } = SemanticMatchScope.FirstUserTurn;

    /// <summary>Gets or sets the guards that veto a hit whose prompt differs from the query in numbers, dates, negation or names.</summary>
    /// <value>The default value is <see cref="SemanticGuards.All"/>.</value>
    public SemanticGuards Guards { get; set; } = SemanticGuards.All;

    /// <summary>
    /// Gets or sets the least share of content words (Jaccard overlap, stop words excluded) the query and the stored
    /// prompt must have in common, in [0, 1]; 0 turns the floor off.
    /// </summary>
    /// <value>The default value is 0 (off).</value>
    [Range(0.0, 1.0)]
    public float MinimumLexicalOverlap { get; set; }

    /// <summary>
    /// Gets or sets the partitions (tenant ids or shared partition names) whose hits the <see cref="ISemanticHitVerifier"/>
    /// must confirm. Empty means every partition, when a verifier is given.
    /// </summary>
    /// <value>The default value is empty.</value>
    public IList<string> VerifiedPartitions { get; set; } = [];

    /// <summary>Gets or sets how many nearest entries are checked, best first, before a lookup is a miss.</summary>
    /// <value>The default value is 4: a near entry vetoed by a guard may be followed by one that passes.</value>
    [Range(1, 64)]
    public int Candidates { get; set; } = 4;

    /// <summary>Gets or sets how long a stored answer is kept, unless a request sets its own <see cref="CacheControl.TimeToLive"/>.</summary>
    /// <value>The default value is one day.</value>
    [Range(typeof(TimeSpan), "00:00:01", "365.00:00:00")]
    public TimeSpan TimeToLive { get; set; } = TimeSpan.FromDays(1);

    /// <summary>Gets or sets how many entries this process keeps; beyond it the least recently used are evicted.</summary>
    /// <value>The default value is 100,000 (about 250 MB with 384-dimensional embeddings and 2 KB answers).</value>
    [Range(1, 100_000_000)]
    public int MaxEntries { get; set; } = 100_000;

    /// <summary>Gets or sets the longest user text, in characters, that is matched by meaning; longer ones pass through.</summary>
    /// <value>The default value is 4,000: embeddings of long texts blur the details that decide the answer.</value>
    [Range(1, 1_000_000)]
    public int MaxQueryLength { get; set; } = 4000;

    /// <summary>Gets or sets the vector index.</summary>
    /// <value>The default value is <see cref="SemanticIndexKind.Flat"/> (exact); see <c>docs/semantic-cache.md</c> for when another pays.</value>
    [EnumDataType(typeof(SemanticIndexKind))]
    public SemanticIndexKind Index { get; set; } = SemanticIndexKind.Flat;

    /// <summary>
    /// Gets or sets the folder of a Model2Vec model to embed with when no embedding generator is given or registered,
    /// instead of the built-in <see cref="LexicalEmbeddingGenerator"/>.
    /// </summary>
    /// <value>The default value is <see langword="null"/>.</value>
    public string? Model2VecModelPath { get; set; }

    /// <summary>Gets or sets the prefix of the partitions this stage writes (and of its keys in a distributed store).</summary>
    /// <value>The default value is <c>costaware:semantic</c>.</value>
    [Required]
    [RegularExpression(@"^[\x21-\x7E]{1,64}$", ErrorMessage = "The KeyPrefix field must be 1 to 64 printable ASCII characters without spaces.")]
    public string KeyPrefix { get; set; } = "costaware:semantic";

    /// <summary>Gets or sets the names of partitions every tenant may share (see <see cref="CacheControl.SharedPartition"/>).</summary>
    /// <value>The default value is empty: every tenant reads and writes only its own entries.</value>
    public IList<string> SharedPartitions { get; set; } = [];

    /// <summary>Gets or sets a value indicating whether a streamed answer is stored as one coalesced response rather than its original updates.</summary>
    /// <value>The default value is <see langword="true"/>.</value>
    public bool CoalesceStreamingUpdates { get; set; } = true;

    /// <summary>Gets or sets a value indicating whether answers that request tool calls are stored.</summary>
    /// <value>The default value is <see langword="false"/>.</value>
    public bool CacheToolCallResponses { get; set; }

    /// <summary>Gets or sets a value indicating whether receipts opened by this stage are recorded to the <see cref="ICostLedger"/>.</summary>
    /// <value>The default value is <see langword="true"/>.</value>
    public bool RecordToLedger { get; set; } = true;

    /// <summary>Gets or sets a value indicating whether cache metrics carry the cost scope's dimensions.</summary>
    /// <value>
    /// The default value is <see langword="false"/>: tenant, user and API key ids are not metric tags, since they multiply
    /// the series a metrics back end stores and leave the process; per-scope money lives in the cost ledger. Turn it on
    /// only for a small, known set of scope values.
    /// </value>
    public bool IncludeScopeInMetrics { get; set; }

    internal SemanticCacheOptions Clone()
    {
        SemanticCacheOptions copy = (SemanticCacheOptions)MemberwiseClone();
        copy.PartitionThresholds = new Dictionary<string, float>(PartitionThresholds, StringComparer.Ordinal);
        copy.VerifiedPartitions = [.. VerifiedPartitions];
        copy.SharedPartitions = [.. SharedPartitions];
        return copy;
    }
}

using Microsoft.Extensions.AI;

namespace CostAware.SemanticCache.Internal;

// One request the semantic cache handles: its text and embedding, where it is matched and stored, and the call context it is charged on.
internal sealed class SemanticRequest(
    string query, string group, string partition, float threshold, bool verify, CacheControl? control, CostCallContext context, bool ownsContext, ChatOptions? options)
{
    public string Query => query;

    public string Group => group;

    public string Partition => partition;

    public float Threshold => threshold;

    public bool Verify => verify;

    public bool SkipRead => control?.SkipRead == true;

    public bool SkipWrite => control?.SkipWrite == true;

    public TimeSpan? TimeToLive => control?.TimeToLive;

    public CostCallContext Context => context;

    public CostReceipt Receipt => context.Receipt;

    public bool OwnsReceipt => ownsContext;

    public ChatOptions? Options => options;

    public float[]? Vector { get; set; }

    // Error-bounded mode: the stored answer this call's fresh answer is compared with, and its similarity.
    public SemanticEntry? VerifyEntry { get; set; }

    public float VerifySimilarity { get; set; }

    // Which error-bounded policy the candidate belongs to (ErrorBound.StagePolicy or an entry-earned one).
    public int Policy { get; set; }

    // The hit came from the near-exact tier (the same text after case, white space and punctuation).
    public bool NearExact { get; set; }

    public ChatOptions CreateForwardedOptions() => context.Forward(options);
}

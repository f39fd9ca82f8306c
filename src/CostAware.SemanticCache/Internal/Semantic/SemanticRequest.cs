using CostAware.Internal.PromptCache;
using Microsoft.Extensions.AI;

namespace CostAware.Internal.Semantic;

// One request the semantic cache handles: its text and embedding, where it is matched and stored, and its receipt.
internal sealed class SemanticRequest(
    string query, string group, string partition, float threshold, bool verify, CacheControl? control, CostReceipt receipt, bool ownsReceipt, ChatOptions? options)
{
    public string Query => query;

    public string Group => group;

    public string Partition => partition;

    public float Threshold => threshold;

    public bool Verify => verify;

    public bool SkipRead => control?.SkipRead == true;

    public bool SkipWrite => control?.SkipWrite == true;

    public TimeSpan? TimeToLive => control?.TimeToLive;

    public CostReceipt Receipt => receipt;

    public bool OwnsReceipt => ownsReceipt;

    public float[]? Vector { get; set; }

    public ChatOptions CreateForwardedOptions() => CacheSettlement.ForwardedOptions(options, receipt);
}

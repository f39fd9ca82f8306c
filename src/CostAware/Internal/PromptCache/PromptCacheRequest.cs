using Microsoft.Extensions.AI;
using Microsoft.Extensions.Caching.Hybrid;

namespace CostAware.Internal.PromptCache;

// One cacheable request as the stage sees it: its key, where it is stored, and the receipt it is charged on.
internal sealed class PromptCacheRequest(
    string key, string[] tags, HybridCacheEntryOptions entryOptions, CostReceipt receipt, bool ownsReceipt, ChatOptions? options)
{
    public string Key => key;

    public string[] Tags => tags;

    public HybridCacheEntryOptions EntryOptions => entryOptions;

    public CostReceipt Receipt => receipt;

    public bool OwnsReceipt => ownsReceipt;

    public ChatOptions CreateForwardedOptions() => CacheSettlement.ForwardedOptions(options, receipt);
}

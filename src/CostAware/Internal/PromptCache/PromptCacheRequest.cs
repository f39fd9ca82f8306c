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

    // The options the inner stages see on a miss: the caller's, with the receipt and the resolved scope made explicit.
    // The scope is written out because HybridCache may run the miss on another thread.
    public ChatOptions CreateForwardedOptions()
    {
        ChatOptions forwarded = options?.Clone() ?? new ChatOptions();
        AdditionalPropertiesDictionary properties = forwarded.AdditionalProperties is { } existing ? new(existing) : [];
        properties[CostAwareProperties.Receipt] = receipt;
        properties[CostAwareProperties.Scope] = receipt.Scope;
        forwarded.AdditionalProperties = properties;
        return forwarded;
    }
}

using Microsoft.Extensions.AI;
using Microsoft.Extensions.Caching.Hybrid;

namespace CostAware.Internal;

// One cacheable request as the stage sees it: its key, where it is stored, and the call context it is charged on.
internal sealed class PromptCacheRequest(
    string key, string[] tags, HybridCacheEntryOptions entryOptions, CostCallContext context, bool ownsContext, ChatOptions? options)
{
    public string Key => key;

    public string[] Tags => tags;

    public HybridCacheEntryOptions EntryOptions => entryOptions;

    public CostCallContext Context => context;

    public CostReceipt Receipt => context.Receipt;

    public bool OwnsReceipt => ownsContext;

    public ChatOptions? Options => options;

    public ChatOptions CreateForwardedOptions() => context.Forward(options);
}

using Microsoft.Extensions.AI;

namespace CostAware.Shared;

// What the exact and the semantic cache count alike: lookups by result (with the money avoided) and answers not
// stored, under one cache name; and the rule for requests neither cache touches.
internal sealed class CacheTelemetry(string cacheName, CostAwareMetrics metrics, bool includeScope)
{
    public void Lookup(string result, CostScope scope, decimal? avoided)
    {
        if (metrics.CacheEnabled)
        {
            metrics.RecordCacheLookup(cacheName, result, scope, includeScope, avoided);
        }
    }

    public void NotStored(string reason)
    {
        if (metrics.CacheEnabled)
        {
            metrics.RecordNotStored(cacheName, reason);
        }
    }

    public void Veto(string reason)
    {
        if (metrics.CacheEnabled)
        {
            metrics.RecordVeto(cacheName, reason);
        }
    }

    // A request that continues a provider-side conversation, or that asks neither to read nor to write, passes
    // through every cache untouched.
    public static bool IsBypassed(ChatOptions? options, CacheControl? control) =>
        options?.ConversationId is not null
        || options?.ContinuationToken is not null
        || (control is { SkipRead: true, SkipWrite: true });
}

using Microsoft.Extensions.AI;

namespace CostAware.Internal.PromptCache;

// What the exact and the semantic cache do alike with money: what a stored answer cost, and what serving it again
// avoided.
internal static class CacheSettlement
{
    // What the stored answer cost: the provider calls the inner stages put on the receipt during the miss (from
    // firstEntry on), or, without a metering stage, the response's own usage.
    public static StoredCall[] StoredCalls(CostReceipt receipt, int firstEntry, UsageDetails? usage, string? modelId)
    {
        var entries = receipt.Entries;
        if (entries.Length > firstEntry)
        {
            List<StoredCall> calls = new(entries.Length - firstEntry);
            for (int i = firstEntry; i < entries.Length; i++)
            {
                CostReceiptEntry e = entries[i];
                if (e.Kind == CostEntryKind.ProviderCall)
                {
                    calls.Add(new StoredCall(e.ModelId, e.Provider, e.Tokens, e.IsBatch, e.IsEstimated));
                }
            }

            return [.. calls];
        }

        return UsageReader.TryRead(usage, out TokenCounts tokens, out _)
            ? [new StoredCall(modelId, Provider: null, tokens, IsBatch: false, IsEstimated: false)]
            : [];
    }

    // One cache-hit entry per provider call behind the stored answer, priced now: what this hit did not spend.
    // Returns the money avoided, or null when a call could not be priced.
    public static decimal? AddHitEntries(CallPricer pricer, CostReceipt receipt, PromptCacheEntry entry, DateTimeOffset now, string stage)
    {
        if (entry.Calls.Length == 0)
        {
            receipt.Add(new CostReceiptEntry
            {
                Kind = CostEntryKind.CacheHit,
                ModelId = entry.ModelId,
                Cost = default(CostBreakdown),
                Timestamp = now,
                Stage = stage,
            });
            return null;
        }

        decimal? avoided = 0m;
        foreach (StoredCall call in entry.Calls)
        {
            CostReceiptEntry hit = pricer.Price(
                CostEntryKind.CacheHit, call.ModelId, call.Provider, call.Tokens, call.IsEstimated, call.IsBatch, now, stage, mayThrow: false);
            receipt.Add(hit);
            avoided = hit.CostAvoided is null ? null : avoided + hit.CostAvoided;
        }

        return avoided;
    }

    // The last update of a stream whose stage owns the receipt.
    public static ChatResponseUpdate ReceiptUpdate(CostReceipt receipt, string? modelId, string? responseId) => new()
    {
        Role = ChatRole.Assistant,
        ModelId = modelId,
        ResponseId = responseId,
        AdditionalProperties = new() { [CostAwareProperties.Receipt] = receipt },
    };

    // The options the inner stages see on a miss: the caller's, with the receipt and the resolved scope made explicit
    // (written out because the miss may run on another thread).
    public static ChatOptions ForwardedOptions(ChatOptions? options, CostReceipt receipt)
    {
        ChatOptions forwarded = options?.Clone() ?? new ChatOptions();
        AdditionalPropertiesDictionary properties = forwarded.AdditionalProperties is { } existing ? new(existing) : [];
        properties[CostAwareProperties.Receipt] = receipt;
        properties[CostAwareProperties.Scope] = receipt.Scope;
        forwarded.AdditionalProperties = properties;
        return forwarded;
    }

    // The receipt a cache stage charges: an outer stage's, passed on the options, or a new one this stage owns.
    public static CostReceipt ResolveReceipt(ChatOptions? options, TimeProvider timeProvider, out bool owned)
    {
        if (options?.AdditionalProperties is { } properties
            && properties.TryGetValue(CostAwareProperties.Receipt, out object? value) && value is CostReceipt outer)
        {
            owned = false;
            return outer;
        }

        owned = true;
        DateTimeOffset now = timeProvider.GetUtcNow();
        return new CostReceipt(ReceiptIds.Next(now), options.ResolveCostScope(), now);
    }
}

using Microsoft.Extensions.AI;
using Microsoft.Extensions.Logging;

namespace CostAware.Shared;

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

    // A miss of a call that a budget admitted for cache hits only: the budgets holding it refuse any provider call, and
    // asking them is how the refusal is raised, before the inner stages or any provider are asked.
    public static async ValueTask RefuseProviderCallAsync(
        CostCallContext context, IEnumerable<ChatMessage> messages, ChatOptions? options, string? defaultModelId, CancellationToken cancellationToken)
    {
        using IDisposable lease = await context.AdmitProviderCallAsync(messages, options, options?.ModelId ?? defaultModelId, batch: false, cancellationToken);
    }

    // The last update of a stream whose stage owns the receipt.
    public static ChatResponseUpdate ReceiptUpdate(CostReceipt receipt, string? modelId, string? responseId) => new()
    {
        Role = ChatRole.Assistant,
        ModelId = modelId,
        ResponseId = responseId,
        AdditionalProperties = new() { [CostAwareProperties.Receipt] = receipt },
    };

    // The opener's last step, once no work charges the call any more: record the receipt (once) and close the
    // context. When the caller left while work still runs (a shared miss another caller waits for, a provider call
    // finishing), this happens when that work ends, in the background.
    public static ValueTask CompleteAsync(CostCallContext context, ICostLedger? ledger, ILogger logger)
    {
        if (!context.HasPendingWork)
        {
            return RecordAndCloseAsync(context, ledger, logger);
        }

        _ = CompleteWhenIdleAsync(context, ledger, logger);
        return ValueTask.CompletedTask;
    }

    private static async Task CompleteWhenIdleAsync(CostCallContext context, ICostLedger? ledger, ILogger logger)
    {
        await context.WhenIdleAsync().ConfigureAwait(false);
        await RecordAndCloseAsync(context, ledger, logger).ConfigureAwait(false);
    }

    private static async ValueTask RecordAndCloseAsync(CostCallContext context, ICostLedger? ledger, ILogger logger)
    {
        if (ledger is not null && context.Receipt.Entries.Length > 0)
        {
            await LedgerRecording.RecordAsync(ledger, context.Receipt, logger);
        }

        context.Close();
    }
}

using System.Runtime.CompilerServices;
using Microsoft.Extensions.AI;

namespace CostAware.Shared;

// What the exact and the semantic cache do alike with a streamed miss: relay it from the inner stages, keeping its
// updates for storing.
internal static class CacheStreams
{
    // Relays the inner stages' stream for a miss, keeping its updates when keep is set. settle runs once the stream is
    // over and before the caller's enumeration ends, whether it completed (then with the updates, or null when not
    // kept, and the receipt position the call started at), failed or was left early (then completed is false). The
    // stream closes with the receipt when no inner stage sent it.
    public static async IAsyncEnumerable<ChatResponseUpdate> RelayMissAsync(
        IChatClient inner,
        IEnumerable<ChatMessage> messages,
        ChatOptions forwarded,
        CostReceipt receipt,
        bool keep,
        Func<CapturedStream, ValueTask> settle,
        [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        int firstEntry = receipt.Entries.Length;
        List<ChatResponseUpdate>? captured = keep ? [] : null;
        bool completed = false;
        bool sawReceipt = false;
        try
        {
            // Inside the try: an inner stage that throws before it returns its stream is settled like any other failure.
            await foreach (ChatResponseUpdate update in inner.GetStreamingResponseAsync(messages, forwarded, cancellationToken))
            {
                captured?.Add(update);
                sawReceipt |= update.AdditionalProperties is not null && update.GetCostReceipt() is not null;
                yield return update;
            }

            completed = true;
        }
        finally
        {
            await settle(new CapturedStream(completed, captured, firstEntry));
        }

        if (!sawReceipt)
        {
            yield return CacheSettlement.ReceiptUpdate(receipt, modelId: null, responseId: null);
        }
    }
}

// How a relayed miss ended: whether the stream completed, what it produced (when kept), and where the receipt stood
// before it, so that only the miss's own provider calls are stored as what the answer cost.
internal readonly record struct CapturedStream(bool Completed, List<ChatResponseUpdate>? Updates, int FirstEntry);

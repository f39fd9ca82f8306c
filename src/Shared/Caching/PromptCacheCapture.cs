using System.Text.Json;
using Microsoft.Extensions.AI;

namespace CostAware.Shared;

// Decides whether an answer may be stored and turns it into an entry. An answer that is cut off, filtered, failed,
// unfinished, empty or asks for tool calls (unless allowed) is never stored: serving it again would repeat the fault.
internal static class PromptCacheCapture
{
    public const string Length = "length";
    public const string ContentFilter = "content_filter";
    public const string ToolCalls = "tool_calls";
    public const string Error = "error";
    public const string Incomplete = "incomplete";
    public const string Empty = "empty";
    public const string Unserializable = "unserializable";

    public const string Abandoned = "abandoned";

    // The entry for an answer whose provider calls are on the receipt from firstEntry on (or, without a metering stage,
    // in its usage), or null with the reason it is not stored.
    public static PromptCacheEntry? TryCreate(
        ChatResponse response, CostReceipt receipt, int firstEntry, bool allowToolCalls, DateTimeOffset now, out string? notStoredReason) =>
        TryCreate(response, allowToolCalls, CacheSettlement.StoredCalls(receipt, firstEntry, response.Usage, response.ModelId), now, out notStoredReason);

    // The same for a streamed answer.
    public static PromptCacheEntry? TryCreate(
        IReadOnlyList<ChatResponseUpdate> updates, CostReceipt receipt, int firstEntry, bool coalesce, bool allowToolCalls, DateTimeOffset now, out string? notStoredReason) =>
        TryCreate(updates, coalesce, allowToolCalls, CacheSettlement.StoredCalls(receipt, firstEntry, usage: null, modelId: null), now, out notStoredReason);

    public static PromptCacheEntry? TryCreate(
        ChatResponse response, bool allowToolCalls, StoredCall[] calls, DateTimeOffset now, out string? notStoredReason)
    {
        notStoredReason = WhyNotStorable(response, allowToolCalls);
        if (notStoredReason is not null)
        {
            return null;
        }

        CachedSegment[] segments = new CachedSegment[response.Messages.Count];
        for (int i = 0; i < segments.Length; i++)
        {
            ChatMessage message = response.Messages[i];
            if (!TryConvert(message.Contents, out CachedContent[]? contents))
            {
                notStoredReason = Unserializable;
                return null;
            }

            segments[i] = new CachedSegment(message.Role.Value, message.AuthorName, message.MessageId, contents);
        }

        return new PromptCacheEntry(
            isChunked: false, response.ModelId, response.ResponseId, response.FinishReason?.Value, response.CreatedAt, now, calls, segments);
    }

    public static PromptCacheEntry? TryCreate(
        IReadOnlyList<ChatResponseUpdate> updates, bool coalesce, bool allowToolCalls, StoredCall[] calls, DateTimeOffset now, out string? notStoredReason)
    {
        ChatResponse response = updates.ToChatResponse();
        if (coalesce)
        {
            return TryCreate(response, allowToolCalls, calls, now, out notStoredReason);
        }

        notStoredReason = WhyNotStorable(response, allowToolCalls);
        if (notStoredReason is not null)
        {
            return null;
        }

        List<CachedSegment> segments = new(updates.Count);
        foreach (ChatResponseUpdate update in updates)
        {
            if (!TryConvert(update.Contents, out CachedContent[]? contents))
            {
                notStoredReason = Unserializable;
                return null;
            }

            // Updates that carried only usage or CostAware's receipt have nothing to replay.
            if (contents.Length > 0)
            {
                segments.Add(new CachedSegment((update.Role ?? ChatRole.Assistant).Value, update.AuthorName, update.MessageId, contents));
            }
        }

        return new PromptCacheEntry(
            isChunked: true, response.ModelId, response.ResponseId, response.FinishReason?.Value, response.CreatedAt, now, calls, [.. segments]);
    }

    public static string? WhyNotStorable(ChatResponse response, bool allowToolCalls)
    {
        if (response.ContinuationToken is not null)
        {
            return Incomplete;
        }

        ChatFinishReason? finish = response.FinishReason;
        if (finish == ChatFinishReason.Length)
        {
            return Length;
        }

        if (finish == ChatFinishReason.ContentFilter)
        {
            return ContentFilter;
        }

        if (finish == ChatFinishReason.ToolCalls && !allowToolCalls)
        {
            return ToolCalls;
        }

        bool any = false;
        foreach (ChatMessage message in response.Messages)
        {
            foreach (AIContent content in message.Contents)
            {
                switch (content)
                {
                    case ErrorContent:
                        return Error;
                    case ToolCallContent when !allowToolCalls:
                        return ToolCalls;
                    case UsageContent:
                        break;
                    default:
                        any = true;
                        break;
                }
            }
        }

        return any ? null : Empty;
    }

    private static bool TryConvert(IList<AIContent> source, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out CachedContent[]? converted)
    {
        List<CachedContent> contents = new(source.Count);
        foreach (AIContent content in source)
        {
            switch (content)
            {
                case UsageContent:
                    // The usage belongs to the call that paid for it, never to a replay.
                    break;
                case TextContent text:
                    contents.Add(new CachedContent(CachedContentKind.Text, text.Text, null, null));
                    break;
                case TextReasoningContent reasoning:
                    contents.Add(new CachedContent(CachedContentKind.Reasoning, reasoning.Text, reasoning.ProtectedData, null));
                    break;
                default:
                    try
                    {
                        contents.Add(new CachedContent(
                            CachedContentKind.Json, null, null, JsonSerializer.SerializeToUtf8Bytes(content, AIJsonUtilities.DefaultOptions)));
                    }
                    catch (Exception ex) when (ex is NotSupportedException or JsonException or InvalidOperationException)
                    {
                        converted = null;
                        return false;
                    }

                    break;
            }
        }

        converted = [.. contents];
        return true;
    }
}

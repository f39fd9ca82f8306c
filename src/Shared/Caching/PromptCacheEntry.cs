using System.ComponentModel;
using System.Text.Json;
using Microsoft.Extensions.AI;

namespace CostAware.Shared;

// A stored answer. Immutable, so HybridCache keeps the instance itself in L1 and a hit costs no deserialisation;
// every hit builds fresh response objects from it, so callers may mutate what they get.
[ImmutableObject(true)]
[System.Text.Json.Serialization.JsonConverter(typeof(PromptCacheEntryJsonConverter))]
internal sealed class PromptCacheEntry
{
    private PromptCacheEntry(string? invalidReason) => InvalidReason = invalidReason;

    public PromptCacheEntry(
        bool isChunked,
        string? modelId,
        string? responseId,
        string? finishReason,
        DateTimeOffset? createdAt,
        DateTimeOffset storedAt,
        StoredCall[] calls,
        CachedSegment[] segments)
    {
        IsChunked = isChunked;
        ModelId = modelId;
        ResponseId = responseId;
        FinishReason = finishReason;
        CreatedAt = createdAt;
        StoredAt = storedAt;
        Calls = calls;
        Segments = segments;
    }

    // Read back from L2 but unusable (another format version, foreign or damaged bytes): a miss, never an error.
    public static PromptCacheEntry Invalid(string reason) => new(reason);

    public string? InvalidReason { get; }

    public bool IsValid => InvalidReason is null;

    // Segments are the original streaming updates rather than whole messages.
    public bool IsChunked { get; }

    public string? ModelId { get; }

    public string? ResponseId { get; }

    public string? FinishReason { get; }

    public DateTimeOffset? CreatedAt { get; }

    public DateTimeOffset StoredAt { get; }

    // The real provider calls that produced the answer: what a hit avoids paying again, at current prices.
    public StoredCall[] Calls { get; } = [];

    public CachedSegment[] Segments { get; } = [];

    public ChatResponse ToResponse()
    {
        if (IsChunked)
        {
            ChatResponse coalesced = ToUpdates().ToChatResponse();
            coalesced.Usage = null;
            return coalesced;
        }

        List<ChatMessage> messages = new(Segments.Length);
        foreach (CachedSegment segment in Segments)
        {
            messages.Add(new ChatMessage(new ChatRole(segment.Role), segment.CreateContents())
            {
                AuthorName = segment.AuthorName,
                MessageId = segment.MessageId,
            });
        }

        return new ChatResponse(messages)
        {
            ModelId = ModelId,
            ResponseId = ResponseId,
            CreatedAt = CreatedAt,
            FinishReason = FinishReason is null ? null : new ChatFinishReason(FinishReason),
        };
    }

    // The stored answer as a stream: its own chunks when it was stored chunked, else the chunks of its response (the
    // one ToResponse gave, so that it is not rehydrated twice).
    public IEnumerable<ChatResponseUpdate> ToReplay(ChatResponse response) => IsChunked ? ToUpdates() : response.ToChatResponseUpdates();

    public List<ChatResponseUpdate> ToUpdates()
    {
        List<ChatResponseUpdate> updates = new(Segments.Length);
        for (int i = 0; i < Segments.Length; i++)
        {
            CachedSegment segment = Segments[i];
            updates.Add(new ChatResponseUpdate(new ChatRole(segment.Role), segment.CreateContents())
            {
                AuthorName = segment.AuthorName,
                MessageId = segment.MessageId,
                ModelId = ModelId,
                ResponseId = ResponseId,
                CreatedAt = CreatedAt,
                FinishReason = i == Segments.Length - 1 && FinishReason is not null ? new ChatFinishReason(FinishReason) : null,
            });
        }

        return updates;
    }
}

internal readonly record struct StoredCall(string? ModelId, string? Provider, TokenCounts Tokens, bool IsBatch, bool IsEstimated);

[ImmutableObject(true)]
internal sealed class CachedSegment(string role, string? authorName, string? messageId, CachedContent[] contents)
{
    public string Role => role;

    public string? AuthorName => authorName;

    public string? MessageId => messageId;

    public CachedContent[] Contents => contents;

    public List<AIContent> CreateContents()
    {
        List<AIContent> created = new(contents.Length);
        foreach (CachedContent content in contents)
        {
            created.Add(content.Create());
        }

        return created;
    }
}

internal enum CachedContentKind : byte
{
    Text = 1,
    Reasoning = 2,
    Json = 3,
}

// Text and reasoning (almost every answer) are kept as strings; anything else as its AIJsonUtilities JSON,
// deserialised into a new instance on each hit.
internal readonly record struct CachedContent(CachedContentKind Kind, string? Text, string? Extra, byte[]? Json)
{
    public AIContent Create() => Kind switch
    {
        CachedContentKind.Text => new TextContent(Text),
        CachedContentKind.Reasoning => new TextReasoningContent(Text) { ProtectedData = Extra },
        _ => JsonSerializer.Deserialize<AIContent>(Json, AIJsonUtilities.DefaultOptions)!,
    };
}

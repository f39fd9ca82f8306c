using System.Buffers;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace CostAware.Shared;

// For a HybridCache built without AddCostAware, which serialises unknown types with System.Text.Json: the entry is
// still written in CostAware's versioned binary format (as one base64 string), and anything unreadable is still an
// invalid entry rather than an exception.
internal sealed class PromptCacheEntryJsonConverter : JsonConverter<PromptCacheEntry>
{
    public override PromptCacheEntry Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        if (reader.TokenType != JsonTokenType.String)
        {
            reader.Skip();
            return PromptCacheEntry.Invalid("not a CostAware prompt-cache entry");
        }

        return reader.TryGetBytesFromBase64(out byte[]? bytes)
            ? PromptCacheEntrySerializer.Instance.Deserialize(new ReadOnlySequence<byte>(bytes))
            : PromptCacheEntry.Invalid("not a CostAware prompt-cache entry");
    }

    public override void Write(Utf8JsonWriter writer, PromptCacheEntry value, JsonSerializerOptions options)
    {
        ArrayBufferWriter<byte> buffer = new();
        PromptCacheEntrySerializer.Instance.Serialize(value, buffer);
        writer.WriteBase64StringValue(buffer.WrittenSpan);
    }
}

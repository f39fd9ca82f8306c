using System.Buffers;
using System.Buffers.Binary;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Caching.Hybrid;

namespace CostAware.Shared;

// The L2 format of a stored answer: "CAPC", a format version, then length-prefixed fields (docs/prompt-cache.md).
// Reading never throws: another version, foreign bytes or damage give an invalid entry, which the stage treats as
// a miss and overwrites. HybridCache would otherwise hand a deserialisation exception to every waiting caller.
internal sealed class PromptCacheEntrySerializer : IHybridCacheSerializer<PromptCacheEntry>
{
    public const byte FormatVersion = 1;
    private static ReadOnlySpan<byte> Magic => "CAPC"u8;

    public static PromptCacheEntrySerializer Instance { get; } = new();

    public void Serialize(PromptCacheEntry value, IBufferWriter<byte> target)
    {
        Writer writer = new(target);
        writer.Raw(Magic);
        writer.Byte(FormatVersion);
        writer.Byte(value.IsChunked ? (byte)1 : (byte)0);
        writer.String(value.ModelId);
        writer.String(value.ResponseId);
        writer.String(value.FinishReason);
        if (value.CreatedAt is { } created)
        {
            writer.Byte(1);
            writer.Int64(created.UtcTicks);
            writer.Int64(created.Offset.Ticks);
        }
        else
        {
            writer.Byte(0);
        }

        writer.Int64(value.StoredAt.UtcTicks);
        writer.Count(value.Calls.Length);
        foreach (StoredCall call in value.Calls)
        {
            writer.String(call.ModelId);
            writer.String(call.Provider);
            TokenCounts t = call.Tokens;
            writer.Int64(t.Input);
            writer.Int64(t.CachedInput);
            writer.Int64(t.CacheWrite);
            writer.Int64(t.CacheWrite1h);
            writer.Int64(t.Output);
            writer.Int64(t.Reasoning);
            writer.Byte((byte)((call.IsBatch ? 1 : 0) | (call.IsEstimated ? 2 : 0)));
        }

        writer.Count(value.Segments.Length);
        foreach (CachedSegment segment in value.Segments)
        {
            writer.String(segment.Role);
            writer.String(segment.AuthorName);
            writer.String(segment.MessageId);
            writer.Count(segment.Contents.Length);
            foreach (CachedContent content in segment.Contents)
            {
                writer.Byte((byte)content.Kind);
                switch (content.Kind)
                {
                    case CachedContentKind.Text:
                        writer.String(content.Text);
                        break;
                    case CachedContentKind.Reasoning:
                        writer.String(content.Text);
                        writer.String(content.Extra);
                        break;
                    default:
                        writer.Count(content.Json!.Length);
                        writer.Raw(content.Json);
                        break;
                }
            }
        }
    }

    public PromptCacheEntry Deserialize(ReadOnlySequence<byte> source)
    {
        byte[]? rented = null;
        ReadOnlySpan<byte> bytes;
        if (source.IsSingleSegment)
        {
            bytes = source.FirstSpan;
        }
        else
        {
            rented = ArrayPool<byte>.Shared.Rent(checked((int)source.Length));
            source.CopyTo(rented);
            bytes = rented.AsSpan(0, (int)source.Length);
        }

        try
        {
            return Read(bytes);
        }
        finally
        {
            if (rented is not null)
            {
                ArrayPool<byte>.Shared.Return(rented);
            }
        }
    }

    private static PromptCacheEntry Read(ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length < Magic.Length + 1 || !bytes.StartsWith(Magic))
        {
            return PromptCacheEntry.Invalid("not a CostAware prompt-cache entry");
        }

        if (bytes[Magic.Length] != FormatVersion)
        {
            return PromptCacheEntry.Invalid($"format version {bytes[Magic.Length]}, this version reads {FormatVersion}");
        }

        Reader reader = new(bytes[(Magic.Length + 1)..]);
        try
        {
            bool chunked = reader.Byte() == 1;
            string? modelId = reader.String();
            string? responseId = reader.String();
            string? finishReason = reader.String();
            DateTimeOffset? createdAt = null;
            if (reader.Byte() == 1)
            {
                long utcTicks = reader.Int64();
                TimeSpan offset = new(reader.Int64());
                createdAt = new DateTimeOffset(utcTicks + offset.Ticks, offset);
            }

            DateTimeOffset storedAt = new(reader.Int64(), TimeSpan.Zero);
            StoredCall[] calls = new StoredCall[reader.Count()];
            for (int i = 0; i < calls.Length; i++)
            {
                string? model = reader.String();
                string? provider = reader.String();
                TokenCounts tokens = new()
                {
                    Input = reader.Int64(),
                    CachedInput = reader.Int64(),
                    CacheWrite = reader.Int64(),
                    CacheWrite1h = reader.Int64(),
                    Output = reader.Int64(),
                    Reasoning = reader.Int64(),
                };
                byte flags = reader.Byte();
                calls[i] = new StoredCall(model, provider, tokens, (flags & 1) != 0, (flags & 2) != 0);
            }

            CachedSegment[] segments = new CachedSegment[reader.Count()];
            for (int i = 0; i < segments.Length; i++)
            {
                string role = reader.String() ?? throw new FormatException("A segment has no role.");
                string? author = reader.String();
                string? messageId = reader.String();
                CachedContent[] contents = new CachedContent[reader.Count()];
                for (int j = 0; j < contents.Length; j++)
                {
                    CachedContentKind kind = (CachedContentKind)reader.Byte();
                    contents[j] = kind switch
                    {
                        CachedContentKind.Text => new CachedContent(kind, reader.String(), null, null),
                        CachedContentKind.Reasoning => new CachedContent(kind, reader.String(), reader.String(), null),
                        CachedContentKind.Json => new CachedContent(kind, null, null, ValidJson(reader.Bytes(reader.Count()))),
                        _ => throw new FormatException($"Unknown content kind {(byte)kind}."),
                    };
                }

                segments[i] = new CachedSegment(role, author, messageId, contents);
            }

            if (!reader.AtEnd)
            {
                throw new FormatException("Trailing bytes after the entry.");
            }

            return new PromptCacheEntry(chunked, modelId, responseId, finishReason, createdAt, storedAt, calls, segments);
        }
        catch (Exception ex) when (ex is FormatException or ArgumentException or JsonException or OverflowException)
        {
            return PromptCacheEntry.Invalid($"damaged entry: {ex.Message}");
        }
    }

    private static byte[] ValidJson(ReadOnlySpan<byte> json)
    {
        Utf8JsonReader reader = new(json);
        while (reader.Read())
        {
        }

        return json.ToArray();
    }

    private ref struct Writer(IBufferWriter<byte> target)
    {
        public readonly void Raw(ReadOnlySpan<byte> bytes) => target.Write(bytes);

        public readonly void Byte(byte value)
        {
            target.GetSpan(1)[0] = value;
            target.Advance(1);
        }

        public readonly void Int64(long value)
        {
            BinaryPrimitives.WriteInt64LittleEndian(target.GetSpan(8), value);
            target.Advance(8);
        }

        public readonly void Count(int value)
        {
            // 7-bit variable-length unsigned integer.
            uint v = (uint)value;
            Span<byte> span = target.GetSpan(5);
            int n = 0;
            while (v >= 0x80)
            {
                span[n++] = (byte)(v | 0x80);
                v >>= 7;
            }

            span[n++] = (byte)v;
            target.Advance(n);
        }

        public readonly void String(string? value)
        {
            if (value is null)
            {
                Count(0);
                return;
            }

            int length = Encoding.UTF8.GetByteCount(value);
            Count(length + 1);
            int written = Encoding.UTF8.GetBytes(value, target.GetSpan(length));
            target.Advance(written);
        }
    }

    private ref struct Reader(ReadOnlySpan<byte> bytes)
    {
        private readonly ReadOnlySpan<byte> _bytes = bytes;
        private int _at;

        public readonly bool AtEnd => _at == _bytes.Length;

        public byte Byte() => Take(1)[0];

        public long Int64() => BinaryPrimitives.ReadInt64LittleEndian(Take(8));

        public int Count()
        {
            uint result = 0;
            for (int shift = 0; shift < 35; shift += 7)
            {
                byte b = Byte();
                result |= (uint)(b & 0x7F) << shift;
                if (b < 0x80)
                {
                    return result <= int.MaxValue ? (int)result : throw new FormatException("A length is out of range.");
                }
            }

            throw new FormatException("A length is malformed.");
        }

        public string? String()
        {
            int length = Count();
            return length == 0 ? null : Encoding.UTF8.GetString(Take(length - 1));
        }

        public ReadOnlySpan<byte> Bytes(int count) => Take(count);

        private ReadOnlySpan<byte> Take(int count)
        {
            if (count < 0 || count > _bytes.Length - _at)
            {
                throw new FormatException("The entry ends early.");
            }

            ReadOnlySpan<byte> span = _bytes.Slice(_at, count);
            _at += count;
            return span;
        }
    }
}

using System.Buffers;
using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text.Json;

namespace CostAware.Shared;

// Writes the canonical form of a request into one growable, pooled buffer that is hashed once. Every value is
// tagged and length-prefixed, so no two different requests can write the same bytes ("ab"+"c" is not "a"+"bc";
// null is not empty). Strings go in as UTF-16 little-endian code units: no encoding pass on the hot path.
internal sealed class CanonicalWriter : IDisposable
{
    private const int NullLength = -1;

    [ThreadStatic]
    private static CanonicalWriter? t_cached;

    private byte[] _buffer;
    private int _length;

    private CanonicalWriter(int capacity) => _buffer = ArrayPool<byte>.Shared.Rent(capacity);

    public ReadOnlySpan<byte> Written => _buffer.AsSpan(0, _length);

    // One writer per thread: key computation is synchronous, so it is never shared across an await.
    public static CanonicalWriter Rent()
    {
        CanonicalWriter? writer = t_cached;
        if (writer is null)
        {
            return new CanonicalWriter(16 * 1024);
        }

        t_cached = null;
        writer._length = 0;
        return writer;
    }

    public void Dispose()
    {
        if (_buffer.Length > 1024 * 1024)
        {
            // Do not pin a huge buffer to the thread after one outsized request.
            ArrayPool<byte>.Shared.Return(_buffer);
            _buffer = ArrayPool<byte>.Shared.Rent(16 * 1024);
        }

        t_cached = this;
    }

    public void Tag(byte tag) => Reserve(1)[0] = tag;

    public void Boolean(bool? value) => Tag(value switch { null => 0, false => 1, true => 2 });

    public void Int32(int value) => BinaryPrimitives.WriteInt32LittleEndian(Reserve(4), value);

    public void Int32(int? value)
    {
        Boolean(value.HasValue);
        if (value.HasValue)
        {
            Int32(value.GetValueOrDefault());
        }
    }

    public void Int64(long? value)
    {
        Boolean(value.HasValue);
        if (value.HasValue)
        {
            BinaryPrimitives.WriteInt64LittleEndian(Reserve(8), value.GetValueOrDefault());
        }
    }

    public void Single(float? value)
    {
        Boolean(value.HasValue);
        if (value.HasValue)
        {
            // -0 and +0 ask for the same thing; every NaN likewise.
            float v = value.GetValueOrDefault();
            v = v == 0f ? 0f : float.IsNaN(v) ? float.NaN : v;
            BinaryPrimitives.WriteSingleLittleEndian(Reserve(4), v);
        }
    }

    public void String(string? value)
    {
        if (value is null)
        {
            Int32(NullLength);
            return;
        }

        Int32(value.Length);
        Span<byte> destination = Reserve(value.Length * sizeof(char));
        ReadOnlySpan<byte> source = MemoryMarshal.AsBytes(value.AsSpan());
        if (BitConverter.IsLittleEndian)
        {
            source.CopyTo(destination);
        }
        else
        {
            for (int i = 0; i < value.Length; i++)
            {
                BinaryPrimitives.WriteUInt16LittleEndian(destination[(i * 2)..], value[i]);
            }
        }
    }

    public void Bytes(ReadOnlySpan<byte> value)
    {
        Int32(value.Length);
        value.CopyTo(Reserve(value.Length));
    }

    // JSON in canonical form: object members sorted by name (ordinal), insignificant whitespace gone, numbers as
    // written. Two schemas or argument sets that differ only in member order or formatting write the same bytes.
    public void Json(JsonElement element)
    {
        switch (element.ValueKind)
        {
            case JsonValueKind.Object:
                Tag((byte)'{');
                int count = 0;
                foreach (JsonProperty _ in element.EnumerateObject())
                {
                    count++;
                }

                JsonProperty[] members = ArrayPool<JsonProperty>.Shared.Rent(count);
                try
                {
                    int i = 0;
                    foreach (JsonProperty member in element.EnumerateObject())
                    {
                        members[i++] = member;
                    }

                    Span<JsonProperty> sorted = members.AsSpan(0, count);
                    sorted.Sort(static (a, b) => string.CompareOrdinal(a.Name, b.Name));
                    Int32(count);
                    foreach (JsonProperty member in sorted)
                    {
                        String(member.Name);
                        Json(member.Value);
                    }
                }
                finally
                {
                    ArrayPool<JsonProperty>.Shared.Return(members, clearArray: true);
                }

                break;
            case JsonValueKind.Array:
                Tag((byte)'[');
                Int32(element.GetArrayLength());
                foreach (JsonElement item in element.EnumerateArray())
                {
                    Json(item);
                }

                break;
            case JsonValueKind.String:
                Tag((byte)'s');
                String(element.GetString());
                break;
            case JsonValueKind.Number:
                Tag((byte)'n');
                String(element.GetRawText());
                break;
            case JsonValueKind.True:
                Tag((byte)'t');
                break;
            case JsonValueKind.False:
                Tag((byte)'f');
                break;
            default:
                Tag((byte)'0');
                break;
        }
    }

    private Span<byte> Reserve(int count)
    {
        if (_buffer.Length - _length < count)
        {
            Grow(count);
        }

        Span<byte> span = _buffer.AsSpan(_length, count);
        _length += count;
        return span;
    }

    private void Grow(int count)
    {
        byte[] larger = ArrayPool<byte>.Shared.Rent(Math.Max(_buffer.Length * 2, _length + count));
        _buffer.AsSpan(0, _length).CopyTo(larger);
        ArrayPool<byte>.Shared.Return(_buffer);
        _buffer = larger;
    }
}

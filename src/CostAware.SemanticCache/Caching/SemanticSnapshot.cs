using System.Buffers.Binary;
using System.IO.Hashing;

namespace CostAware.SemanticCache.Internal;

// The snapshot format: "CASS", a version byte, the record count, each record (length-prefixed, in
// SemanticCacheRecord's own format), and an XXH64 checksum of everything before it. Reading validates the whole
// snapshot before anything is used, so a damaged one is rejected, never half-loaded.
internal static class SemanticSnapshot
{
    private const uint Magic = 0x53534143; // "CASS"
    private const byte FormatVersion = 1;
    private const int HeaderLength = 9;

    public static async Task WriteAsync(Stream destination, IReadOnlyList<SemanticCacheRecord> records, CancellationToken cancellationToken)
    {
        using MemoryStream buffer = new();
        Span<byte> header = stackalloc byte[HeaderLength];
        BinaryPrimitives.WriteUInt32LittleEndian(header, Magic);
        header[4] = FormatVersion;
        BinaryPrimitives.WriteInt32LittleEndian(header[5..], records.Count);
        buffer.Write(header);
        Span<byte> length = stackalloc byte[4];
        foreach (SemanticCacheRecord record in records)
        {
            byte[] bytes = record.ToBytes();
            BinaryPrimitives.WriteInt32LittleEndian(length, bytes.Length);
            buffer.Write(length);
            buffer.Write(bytes);
        }

        Span<byte> checksum = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(checksum, XxHash64.HashToUInt64(buffer.GetBuffer().AsSpan(0, (int)buffer.Length)));
        buffer.Write(checksum);
        buffer.Position = 0;
        await buffer.CopyToAsync(destination, cancellationToken).ConfigureAwait(false);
    }

    public static async Task<List<SemanticCacheRecord>> ReadAsync(Stream source, CancellationToken cancellationToken)
    {
        using MemoryStream buffer = new();
        await source.CopyToAsync(buffer, cancellationToken).ConfigureAwait(false);
        ReadOnlySpan<byte> data = buffer.GetBuffer().AsSpan(0, (int)buffer.Length);
        return Parse(data);
    }

    private static List<SemanticCacheRecord> Parse(ReadOnlySpan<byte> data)
    {
        if (data.Length < HeaderLength + 8 || BinaryPrimitives.ReadUInt32LittleEndian(data) != Magic)
        {
            throw new InvalidDataException("The stream is not a CostAware semantic-cache snapshot (or is truncated before its header ends).");
        }

        if (data[4] != FormatVersion)
        {
            throw new InvalidDataException($"The snapshot has format version {data[4]}; this library reads version {FormatVersion}.");
        }

        ReadOnlySpan<byte> body = data[..^8];
        if (XxHash64.HashToUInt64(body) != BinaryPrimitives.ReadUInt64LittleEndian(data[^8..]))
        {
            throw new InvalidDataException("The snapshot's checksum does not match its contents: it is truncated or damaged. Nothing was restored.");
        }

        int count = BinaryPrimitives.ReadInt32LittleEndian(data[5..]);
        if (count < 0)
        {
            throw new InvalidDataException($"The snapshot claims {count} records.");
        }

        List<SemanticCacheRecord> records = new(Math.Min(count, 1 << 16));
        int at = HeaderLength;
        for (int i = 0; i < count; i++)
        {
            if (at + 4 > body.Length)
            {
                throw new InvalidDataException($"The snapshot ends after {i} of its {count} records.");
            }

            int length = BinaryPrimitives.ReadInt32LittleEndian(body[at..]);
            at += 4;
            if (length < 0 || at + length > body.Length)
            {
                throw new InvalidDataException($"Record {i} of the snapshot claims {length} bytes, more than remain.");
            }

            records.Add(SemanticCacheRecord.FromBytes(body.Slice(at, length)));
            at += length;
        }

        return at == body.Length
            ? records
            : throw new InvalidDataException("The snapshot has bytes after its last record.");
    }
}

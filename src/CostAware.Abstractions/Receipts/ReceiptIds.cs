using System.Buffers.Binary;
using System.Security.Cryptography;

namespace CostAware;

// Time-ordered, UUID version 7 receipt ids without a call into the OS random source per receipt: 48 bits of Unix
// milliseconds, then a random 32-bit process prefix drawn once, then a 42-bit counter. Unique within a process by the
// counter, across processes by the prefix and the clock.
internal static class ReceiptIds
{
    private static readonly uint ProcessPrefix = BinaryPrimitives.ReadUInt32LittleEndian(RandomNumberGenerator.GetBytes(4));
    private static long _counter = BinaryPrimitives.ReadInt64LittleEndian(RandomNumberGenerator.GetBytes(8)) & 0xFFFF_FFFF;

    public static Guid Next(DateTimeOffset now)
    {
        ulong millis = (ulong)now.ToUnixTimeMilliseconds() & 0xFFFF_FFFF_FFFF;
        ulong counter = (ulong)Interlocked.Increment(ref _counter) & 0x3FF_FFFF_FFFF;
        Span<byte> bytes = stackalloc byte[16];
        BinaryPrimitives.WriteUInt64BigEndian(bytes, (millis << 16) | 0x7000 | (counter >> 30));
        BinaryPrimitives.WriteUInt64BigEndian(bytes[8..], 0x8000_0000_0000_0000UL | ((counter & 0x3FFF_FFFF) << 32) | ProcessPrefix);
        return new Guid(bytes, bigEndian: true);
    }
}

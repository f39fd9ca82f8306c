using System.Buffers;
using CostAware.Internal;
using CostAware.Shared;
using CsCheck;
using Microsoft.Extensions.AI;

namespace CostAware.Tests.Caching;

public class PromptCacheEntrySerializerTests
{
    private static readonly Gen<string?> OptionalText = Gen.String[Gen.Char, 0, 30].Null(0.2);

    private static readonly Gen<StoredCall> Calls =
        Gen.Select(OptionalText, OptionalText, Gen.Long[0, 10_000_000], Gen.Long[0, 10_000_000], Gen.Bool, Gen.Bool)
            .Select(static (model, provider, input, output, batch, estimated) =>
                new StoredCall(model, provider, new TokenCounts { Input = input, CachedInput = input / 2, CacheWrite = input / 4, CacheWrite1h = input / 8, Output = output, Reasoning = output / 3 }, batch, estimated));

    private static readonly Gen<CachedContent> Contents = Gen.OneOf(
        Gen.String[Gen.Char, 0, 200].Select(static t => new CachedContent(CachedContentKind.Text, t, null, null)),
        Gen.Select(Gen.String[Gen.Char, 0, 50], OptionalText).Select(static (t, p) => new CachedContent(CachedContentKind.Reasoning, t, p, null)),
        Gen.String[Gen.Char.AlphaNumeric, 0, 20].Select(static id => new CachedContent(
            CachedContentKind.Json, null, null, System.Text.Json.JsonSerializer.SerializeToUtf8Bytes<AIContent>(new HostedFileContent("file-" + id), AIJsonUtilities.DefaultOptions))));

    private static readonly Gen<PromptCacheEntry> Entries =
        Gen.Select(
            Gen.Bool,
            OptionalText,
            OptionalText,
            Gen.OneOf<string?>("stop", "length", null),
            Gen.Select(Gen.Long[TimeSpan.TicksPerDay, 3_000_000_000_000_000], Gen.Int[-14 * 60, 14 * 60]).Select(static (t, m) => new DateTimeOffset(t, TimeSpan.FromMinutes(m))).Nullable(0.2),
            Gen.Select(Gen.String[Gen.Char.AlphaNumeric, 1, 10], OptionalText, OptionalText, Contents.Array[0, 4])
                .Select(static (role, author, id, contents) => new CachedSegment(role, author, id, contents)).Array[0, 4],
            Calls.Array[0, 3])
        .Select(static (chunked, model, responseId, finish, created, segments, calls) =>
            new PromptCacheEntry(chunked, model, responseId, finish, created, new DateTimeOffset(2026, 11, 23, 0, 0, 0, TimeSpan.Zero), calls, segments));

    private static byte[] Serialize(PromptCacheEntry entry)
    {
        ArrayBufferWriter<byte> buffer = new();
        PromptCacheEntrySerializer.Instance.Serialize(entry, buffer);
        return buffer.WrittenSpan.ToArray();
    }

    private static PromptCacheEntry Deserialize(byte[] bytes) => PromptCacheEntrySerializer.Instance.Deserialize(new ReadOnlySequence<byte>(bytes));

    [Fact]
    public void RoundTrip_AnyEntry_ReadsBackEqual() =>
        Entries.Sample(static entry =>
        {
            PromptCacheEntry back = Deserialize(Serialize(entry));
            return back.IsValid
                && back.IsChunked == entry.IsChunked && back.ModelId == entry.ModelId && back.ResponseId == entry.ResponseId
                && back.FinishReason == entry.FinishReason && back.CreatedAt == entry.CreatedAt && back.CreatedAt?.Offset == entry.CreatedAt?.Offset
                && back.StoredAt == entry.StoredAt && back.Calls.SequenceEqual(entry.Calls)
                && back.Segments.Length == entry.Segments.Length
                && back.Segments.Zip(entry.Segments).All(static p =>
                    p.First.Role == p.Second.Role && p.First.AuthorName == p.Second.AuthorName && p.First.MessageId == p.Second.MessageId
                    && p.First.Contents.Length == p.Second.Contents.Length
                    && p.First.Contents.Zip(p.Second.Contents).All(static c =>
                        c.First.Kind == c.Second.Kind && c.First.Text == c.Second.Text && c.First.Extra == c.Second.Extra
                        && (c.First.Json ?? []).AsSpan().SequenceEqual(c.Second.Json)));
        });

    [Fact]
    public void Deserialize_TruncatedOrDamagedEntry_InvalidNeverThrows() =>
        Gen.Select(Entries, Gen.Int[0, 1000], Gen.Byte).Sample(static (entry, cut, flip) =>
        {
            byte[] bytes = Serialize(entry);
            byte[] truncated = bytes[..Math.Min(cut % (bytes.Length + 1), bytes.Length - 1)];
            byte[] damaged = [.. bytes];
            damaged[5 + (cut % (damaged.Length - 5))] ^= (byte)(flip | 1);
            // Damage may still parse into a different valid entry; what matters is that it never throws.
            _ = Deserialize(damaged);
            return !Deserialize(truncated).IsValid;
        });

    [Theory]
    [InlineData(new byte[0], "not a CostAware prompt-cache entry")]
    [InlineData(new byte[] { (byte)'{', (byte)'}' }, "not a CostAware prompt-cache entry")]
    [InlineData(new byte[] { (byte)'C', (byte)'A', (byte)'P', (byte)'C', 2, 0 }, "format version 2, this version reads 1")]
    public void Deserialize_ForeignOrOtherVersion_InvalidWithReason(byte[] bytes, string reason)
    {
        PromptCacheEntry entry = Deserialize(bytes);

        Assert.False(entry.IsValid);
        Assert.Equal(reason, entry.InvalidReason);
    }

    [Fact]
    public void Deserialize_MultiSegmentSequence_ReadsLikeOneSegment()
    {
        PromptCacheEntry entry = new(false, "gpt-4o", "r1", "stop", null, DateTimeOffset.UnixEpoch, [],
            [new CachedSegment("assistant", null, null, [new CachedContent(CachedContentKind.Text, new string('x', 500), null, null)])]);
        byte[] bytes = Serialize(entry);
        Segment first = new(bytes.AsMemory(0, 100));
        Segment last = first.Append(bytes.AsMemory(100));

        PromptCacheEntry back = PromptCacheEntrySerializer.Instance.Deserialize(new ReadOnlySequence<byte>(first, 0, last, last.Memory.Length));

        Assert.True(back.IsValid);
        Assert.Equal(new string('x', 500), back.ToResponse().Text);
    }

    private sealed class Segment : ReadOnlySequenceSegment<byte>
    {
        public Segment(ReadOnlyMemory<byte> memory) => Memory = memory;

        public Segment Append(ReadOnlyMemory<byte> memory)
        {
            Segment next = new(memory) { RunningIndex = RunningIndex + Memory.Length };
            Next = next;
            return next;
        }
    }
}

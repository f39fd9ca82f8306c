using CsCheck;

namespace CostAware.SemanticCache.Tests.Caching;

public sealed class SemanticCacheRecordTests
{
    private static readonly Gen<SemanticCacheRecord> Records =
        Gen.Select(Gen.String, Gen.String, Gen.String, Gen.Float.Array[1, 64], Gen.Byte.Array[0, 200], Gen.Long[0, DateTimeOffset.MaxValue.UtcTicks], Gen.Select(Gen.Bool, Gen.Float[-1f, 1f], static (has, v) => has ? v : (float?)null), Gen.Float[-1f, 1f].Array[0, 8])
            .SelectMany(static (id, group, prompt, vector, answer, ticks, wrongAt, confirmations) => Gen.String.Array[0, 16].Select(aliases => new SemanticCacheRecord
            {
                WrongAt = wrongAt,
                Confirmations = confirmations,
                Aliases = aliases,
                Id = id,
                Group = group,
                Partition = group + ":" + id,
                Prompt = prompt,
                Vector = vector,
                Answer = answer,
                ExpiresAt = new DateTimeOffset(ticks, TimeSpan.Zero),
            }));

    [Fact]
    public void A_record_reads_back_as_written() =>
        Records.Sample(static record =>
        {
            SemanticCacheRecord back = SemanticCacheRecord.FromBytes(record.ToBytes());
            return back.Id == record.Id && back.Group == record.Group && back.Partition == record.Partition && back.Prompt == record.Prompt
                && back.ExpiresAt == record.ExpiresAt
                && back.Vector.Span.SequenceEqual(record.Vector.Span) && back.Answer.Span.SequenceEqual(record.Answer.Span)
                && back.WrongAt == record.WrongAt && back.Confirmations.Span.SequenceEqual(record.Confirmations.Span)
                && back.Aliases.SequenceEqual(record.Aliases);
        });

    [Fact]
    public void A_version_2_record_reads_without_aliases() =>
        Records.Sample(static record =>
        {
            // Version 2 is version 3 without the aliases' tail (a count, then the strings).
            SemanticCacheRecord plain = WithoutAliases(record);
            byte[] v2 = plain.ToBytes()[..^1];
            v2[4] = 2;
            SemanticCacheRecord back = SemanticCacheRecord.FromBytes(v2);
            return back.Id == record.Id && back.WrongAt == record.WrongAt && back.Confirmations.Span.SequenceEqual(plain.Confirmations.Span) && back.Aliases.Count == 0;
        });

    [Fact]
    public void Merging_two_copies_keeps_what_either_learned() =>
        Gen.Select(Records, Records).Sample(static (a, b) =>
        {
            SemanticCacheRecord merged = a.MergeLearning(b);
            float? highest = a.WrongAt is null ? b.WrongAt : b.WrongAt is null ? a.WrongAt : Math.Max(a.WrongAt.Value, b.WrongAt.Value);
            float[] lowest = [.. a.Confirmations.ToArray().Union(b.Confirmations.ToArray()).Order().Take(8)];
            string[] aliases = [.. a.Aliases.Union(b.Aliases, StringComparer.Ordinal).Take(16)];
            SemanticCacheRecord back = SemanticCacheRecord.FromBytes(merged.ToBytes());
            return merged.Id == a.Id && merged.Answer.Span.SequenceEqual(a.Answer.Span) && merged.WrongAt == highest
                && merged.Confirmations.Span.SequenceEqual(lowest) && merged.Aliases.SequenceEqual(aliases)
                && back.Aliases.SequenceEqual(aliases);
        });

    private static SemanticCacheRecord WithoutAliases(SemanticCacheRecord record) => new()
    {
        Id = record.Id,
        Group = record.Group,
        Partition = record.Partition,
        Prompt = record.Prompt,
        Vector = record.Vector,
        Answer = record.Answer,
        ExpiresAt = record.ExpiresAt,
        WrongAt = record.WrongAt,
        Confirmations = record.Confirmations,
    };

    [Fact]
    public void A_version_1_record_from_an_older_node_still_reads_without_learned_state() =>
        Records.Sample(static record =>
        {
            // Version 1 is version 3 without the learned tail (a float and a count, the confirmations, the aliases' count).
            byte[] bytes = WithoutAliases(record).ToBytes();
            byte[] v1 = bytes[..^(6 + (4 * record.Confirmations.Length))];
            v1[4] = 1;
            SemanticCacheRecord back = SemanticCacheRecord.FromBytes(v1);
            return back.Id == record.Id && back.Answer.Span.SequenceEqual(record.Answer.Span) && back.WrongAt is null && back.Confirmations.IsEmpty;
        });

    [Fact]
    public void A_truncated_record_is_rejected_with_a_clear_error_never_misread() =>
        Gen.Select(Records, Gen.Int[0, int.MaxValue]).Sample(static (record, cut) =>
        {
            byte[] bytes = record.ToBytes();
            byte[] truncated = bytes[..(cut % bytes.Length)];
            try
            {
                _ = SemanticCacheRecord.FromBytes(truncated);
                return false;
            }
            catch (InvalidDataException)
            {
                return true;
            }
        });

    [Theory]
    [InlineData(new byte[0])]
    [InlineData(new byte[] { (byte)'C', (byte)'A', (byte)'S', (byte)'R', 3 })]
    [InlineData(new byte[] { 0x43, 0x41, 0x53, 0x52, 4, 0 })]
    [InlineData(new byte[] { 1, 2, 3, 4, 5, 6 })]
    public void Foreign_or_other_version_bytes_are_rejected(byte[] bytes) =>
        Assert.Throws<InvalidDataException>(() => SemanticCacheRecord.FromBytes(bytes));
}

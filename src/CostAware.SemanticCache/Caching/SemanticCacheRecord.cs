using System.Text;

namespace CostAware;

/// <summary>
/// One semantic-cache entry as an <see cref="ISemanticCacheStore"/> keeps it: what every node needs to put the entry
/// in its own index and serve it.
/// </summary>
/// <remarks>
/// <see cref="ToBytes"/> and <see cref="FromBytes"/> give a versioned binary form, so a store needs no serializer of
/// its own. Instances are immutable.
/// </remarks>
public sealed class SemanticCacheRecord
{
    private const uint Magic = 0x52534143; // "CASR"
    // Version 2 adds what the error-bounded mode learned about the entry after the answer, version 3 the texts a
    // verification confirmed (aliases); versions 1 and 2 are still read.
    private const byte FormatVersion = 3;
    private const int MaxConfirmations = 8;
    private const int MaxAliases = 16;

    /// <summary>Gets the record's id, unique across nodes.</summary>
    public required string Id { get; init; }

    /// <summary>
    /// Gets the group the entry is invalidated with: the hashed tenant or shared partition (never the tenant id itself).
    /// </summary>
    public required string Group { get; init; }

    /// <summary>Gets the exact partition (a hash of tenant, model, instructions, tools, options and earlier turns) searched semantically.</summary>
    public required string Partition { get; init; }

    /// <summary>Gets the text that was embedded: the prompt the answer was given to.</summary>
    public required string Prompt { get; init; }

    /// <summary>Gets the prompt's embedding.</summary>
    public required ReadOnlyMemory<float> Vector { get; init; }

    /// <summary>Gets the stored answer, in CostAware's cache-entry format.</summary>
    public required ReadOnlyMemory<byte> Answer { get; init; }

    /// <summary>Gets when the entry expires.</summary>
    public required DateTimeOffset ExpiresAt { get; init; }

    /// <summary>
    /// Gets the highest similarity at which this entry's answer was found wrong for another text (error-bounded mode and
    /// wrong-hit reports), or <see langword="null"/>; the entry is not served at or below it.
    /// </summary>
    public float? WrongAt { get; init; }

    /// <summary>Gets the similarities (at most 8, the lowest) at which verifications confirmed this entry's answer for other texts.</summary>
    public ReadOnlyMemory<float> Confirmations { get; init; }

    /// <summary>
    /// Gets the other texts (at most 16) a verification confirmed this entry's answer for: a request equal to one of them
    /// after case, white space and punctuation is a near-exact hit.
    /// </summary>
    public IReadOnlyList<string> Aliases { get; init; } = [];

    /// <summary>Writes the record in its versioned binary form.</summary>
    /// <returns>The bytes.</returns>
    public byte[] ToBytes()
    {
        using MemoryStream stream = new(64 + (Prompt.Length * 2) + (Vector.Length * 4) + Answer.Length);
        using (BinaryWriter writer = new(stream, Encoding.UTF8, leaveOpen: true))
        {
            writer.Write(Magic);
            writer.Write(FormatVersion);
            writer.Write(Id);
            writer.Write(Group);
            writer.Write(Partition);
            writer.Write(Prompt);
            writer.Write(ExpiresAt.UtcTicks);
            writer.Write7BitEncodedInt(Vector.Length);
            foreach (float value in Vector.Span)
            {
                writer.Write(value);
            }

            writer.Write7BitEncodedInt(Answer.Length);
            writer.Write(Answer.Span);
            writer.Write(WrongAt ?? float.NegativeInfinity);
            int confirmations = Math.Min(Confirmations.Length, MaxConfirmations);
            writer.Write((byte)confirmations);
            foreach (float value in Confirmations.Span[..confirmations])
            {
                writer.Write(value);
            }

            int aliases = Math.Min(Aliases.Count, MaxAliases);
            writer.Write((byte)aliases);
            for (int i = 0; i < aliases; i++)
            {
                writer.Write(Aliases[i]);
            }
        }

        return stream.ToArray();
    }

    /// <summary>Reads a record written by <see cref="ToBytes"/>.</summary>
    /// <param name="bytes">The bytes.</param>
    /// <returns>The record.</returns>
    /// <exception cref="InvalidDataException">The bytes are not a record of a version this library reads, or are truncated or damaged.</exception>
    public static SemanticCacheRecord FromBytes(ReadOnlySpan<byte> bytes)
    {
        byte[] copy = bytes.ToArray();
        try
        {
            using MemoryStream stream = new(copy, writable: false);
            using BinaryReader reader = new(stream, Encoding.UTF8);
            if (reader.ReadUInt32() != Magic)
            {
                throw new InvalidDataException("The bytes are not a CostAware semantic-cache record.");
            }

            byte version = reader.ReadByte();
            if (version is < 1 or > FormatVersion)
            {
                throw new InvalidDataException($"The semantic-cache record has format version {version}; this library reads versions 1 to {FormatVersion}.");
            }

            string id = reader.ReadString();
            string group = reader.ReadString();
            string partition = reader.ReadString();
            string prompt = reader.ReadString();
            long ticks = reader.ReadInt64();
            int dimensions = reader.Read7BitEncodedInt();
            if (dimensions <= 0 || dimensions > (stream.Length - stream.Position) / 4)
            {
                throw new InvalidDataException($"The semantic-cache record claims {dimensions} dimensions, more than its remaining bytes hold.");
            }

            float[] vector = new float[dimensions];
            for (int i = 0; i < vector.Length; i++)
            {
                vector[i] = reader.ReadSingle();
            }

            int answerLength = reader.Read7BitEncodedInt();
            long learned = version switch { 1 => 0, 2 => 5, _ => 6 };
            if (answerLength < 0 || answerLength > stream.Length - stream.Position - learned)
            {
                throw new InvalidDataException("The semantic-cache record's answer is longer than the record: it is truncated.");
            }

            byte[] answer = reader.ReadBytes(answerLength);
            float? wrongAt = null;
            float[] confirmations = [];
            if (version > 1)
            {
                float wrong = reader.ReadSingle();
                wrongAt = float.IsNegativeInfinity(wrong) ? null : float.IsFinite(wrong) ? wrong : throw new InvalidDataException("The semantic-cache record's learned similarity is not a number.");
                int count = reader.ReadByte();
                if (count > MaxConfirmations)
                {
                    throw new InvalidDataException($"The semantic-cache record claims {count} confirmations; at most {MaxConfirmations} are kept.");
                }

                confirmations = new float[count];
                for (int i = 0; i < count; i++)
                {
                    confirmations[i] = reader.ReadSingle();
                    if (!float.IsFinite(confirmations[i]))
                    {
                        throw new InvalidDataException("The semantic-cache record's confirmation is not a number.");
                    }
                }
            }

            string[] aliases = [];
            if (version > 2)
            {
                int count = reader.ReadByte();
                if (count > MaxAliases)
                {
                    throw new InvalidDataException($"The semantic-cache record claims {count} aliases; at most {MaxAliases} are kept.");
                }

                aliases = new string[count];
                for (int i = 0; i < count; i++)
                {
                    aliases[i] = reader.ReadString();
                }
            }

            if (stream.Position != stream.Length)
            {
                throw new InvalidDataException("The semantic-cache record has trailing bytes.");
            }

            return new SemanticCacheRecord
            {
                Id = id,
                Group = group,
                Partition = partition,
                Prompt = prompt,
                ExpiresAt = new DateTimeOffset(ticks, TimeSpan.Zero),
                Vector = vector,
                Answer = answer,
                WrongAt = wrongAt,
                Confirmations = confirmations,
                Aliases = aliases,
            };
        }
        catch (Exception ex) when (ex is EndOfStreamException or FormatException or ArgumentOutOfRangeException)
        {
            throw new InvalidDataException("The semantic-cache record is truncated or damaged: " + ex.Message, ex);
        }
    }

    // This record with what another copy of the same entry learned added (the lessons only grow: the higher wrong
    // similarity, the union of confirmations and of aliases), so that two nodes learning at once lose neither lesson.
    internal SemanticCacheRecord MergeLearning(SemanticCacheRecord other)
    {
        float? wrongAt = (WrongAt, other.WrongAt) switch
        {
            (null, var theirs) => theirs,
            (var ours, null) => ours,
            (float ours, float theirs) => Math.Max(ours, theirs),
        };
        float[] confirmations = [.. Confirmations.ToArray().Union(other.Confirmations.ToArray()).Order().Take(MaxConfirmations)];
        string[] aliases = [.. Aliases.Union(other.Aliases, StringComparer.Ordinal).Take(MaxAliases)];
        return new SemanticCacheRecord
        {
            Id = Id,
            Group = Group,
            Partition = Partition,
            Prompt = Prompt,
            Vector = Vector,
            Answer = Answer,
            ExpiresAt = ExpiresAt,
            WrongAt = wrongAt,
            Confirmations = confirmations,
            Aliases = aliases,
        };
    }
}

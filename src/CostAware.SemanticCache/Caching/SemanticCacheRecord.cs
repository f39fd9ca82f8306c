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
    // Version 2 adds what the error-bounded mode learned about the entry after the answer; version 1 is still read.
    private const byte FormatVersion = 2;
    private const int MaxConfirmations = 8;

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
            if (version is not (1 or FormatVersion))
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
            long learned = version == 1 ? 0 : 5;
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
            };
        }
        catch (Exception ex) when (ex is EndOfStreamException or FormatException or ArgumentOutOfRangeException)
        {
            throw new InvalidDataException("The semantic-cache record is truncated or damaged: " + ex.Message, ex);
        }
    }
}

using System.Buffers.Binary;
using System.Text;
using System.Text.Json;

namespace CostAware.Onnx.Tests.TestModels;

// Test-only: writes the SentencePiece ModelProto (protobuf) of a tokenizer.model file, from a tokenizer.json Unigram
// vocabulary. Only the fields that tokenizer reads are written. Normalisation is left to the caller ("identity"):
// only the dummy prefix and whitespace escaping (the Metaspace pre-tokenizer) are SentencePiece's.
internal static class SentencePieceModelWriter
{
    private const int Normal = 1;
    private const int Unknown = 2;
    private const int Control = 3;
    private const int Unigram = 1;

    public static byte[] Write(JsonElement vocab, int unknownId, bool addDummyPrefix, HashSet<int> specialIds)
    {
        using MemoryStream model = new();
        Span<byte> single = stackalloc byte[4];
        int id = 0;
        foreach (JsonElement entry in vocab.EnumerateArray())
        {
            string piece = entry[0].GetString() ?? "";
            float score = (float)entry[1].GetDouble();
            int type = id == unknownId ? Unknown : specialIds.Contains(id) ? Control : Normal;
            using MemoryStream sentencePiece = new();
            WriteBytes(sentencePiece, 1, Encoding.UTF8.GetBytes(piece));
            WriteTag(sentencePiece, 2, 5);
            BinaryPrimitives.WriteSingleLittleEndian(single, score);
            sentencePiece.Write(single);
            WriteVarintField(sentencePiece, 3, (ulong)type);
            WriteBytes(model, 1, sentencePiece.ToArray());
            id++;
        }

        // The tokenizer requires BOS and EOS ids inside the vocabulary; they are never emitted (no BOS/EOS is
        // requested), so they point at the first control piece, or at the unknown piece.
        int control = specialIds.Count > 0 ? specialIds.Min() : unknownId;
        using MemoryStream trainer = new();
        WriteVarintField(trainer, 3, Unigram);
        WriteVarintField(trainer, 40, (ulong)unknownId);
        WriteVarintField(trainer, 41, (ulong)control);
        WriteVarintField(trainer, 42, (ulong)control);
        WriteVarintField(trainer, 43, unchecked((ulong)-1L));
        WriteBytes(model, 2, trainer.ToArray());

        using MemoryStream normalizer = new();
        WriteBytes(normalizer, 1, "identity"u8.ToArray());
        WriteVarintField(normalizer, 3, addDummyPrefix ? 1UL : 0UL);
        WriteVarintField(normalizer, 4, 0);
        WriteVarintField(normalizer, 5, 1);
        WriteBytes(model, 3, normalizer.ToArray());
        return model.ToArray();
    }

    private static void WriteTag(Stream stream, int field, int wireType) => WriteVarint(stream, (ulong)((field << 3) | wireType));

    private static void WriteVarintField(Stream stream, int field, ulong value)
    {
        WriteTag(stream, field, 0);
        WriteVarint(stream, value);
    }

    private static void WriteBytes(Stream stream, int field, byte[] bytes)
    {
        WriteTag(stream, field, 2);
        WriteVarint(stream, (ulong)bytes.Length);
        stream.Write(bytes);
    }

    private static void WriteVarint(Stream stream, ulong value)
    {
        while (value >= 0x80)
        {
            stream.WriteByte((byte)(value | 0x80));
            value >>= 7;
        }

        stream.WriteByte((byte)value);
    }
}

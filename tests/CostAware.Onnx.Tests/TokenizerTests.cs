using System.Text;
using CostAware.Onnx.Internal;
using CostAware.Shared;
using CostAware.Onnx.Tests.TestModels;
using CsCheck;

namespace CostAware.Onnx.Tests;

// The tokenizer adapters shared by the local backends and the semantic cache, on files generated here.
public sealed class TokenizerTests
{
    private static readonly Lazy<ModelTokenizer> ByteLevel = new(() => TokenizerJson.Load(Encoding.UTF8.GetBytes(TinyModels.ByteLevelTokenizerJson()), "tokenizer.json"));

    [Fact]
    public void ByteLevelBpe_MergesSpecialsAndBytes()
    {
        ModelTokenizer tokenizer = ByteLevel.Value;

        IReadOnlyList<int> ids = tokenizer.EncodeToIds("hello<|im_end|> é");

        // "hell" (two merges) "o", the special as one token, then " " and the two bytes of 'é'.
        Assert.Equal([261, 'o', TinyModels.ImEnd, ' ', 0xC3, 0xA9], ids);
        Assert.Equal("hello é", tokenizer.Decode(ids));
        Assert.True(tokenizer.IsSpecial(TinyModels.ImEnd));
        Assert.Equal(TinyModels.ImEnd, tokenizer.IdOf("<|im_end|>"));
    }

    [Fact]
    public void ByteLevelBpe_RoundTripsAnyText()
    {
        Gen.String.Sample(text =>
        {
            string normalized = text.Normalize(NormalizationForm.FormC);
            return ByteLevel.Value.Decode(ByteLevel.Value.EncodeToIds(text)) == normalized
                || normalized.Contains('\uFFFD', StringComparison.Ordinal)
                || !IsWellFormed(normalized);
        });
    }

    private static bool IsWellFormed(string text)
    {
        for (int i = 0; i < text.Length; i++)
        {
            if (char.IsHighSurrogate(text[i]) ? i + 1 >= text.Length || !char.IsLowSurrogate(text[++i]) : char.IsLowSurrogate(text[i]))
            {
                return false;
            }
        }

        return true;
    }

    [Fact]
    public void WordPieceTokenizerJson_LowercasesSplitsAndAddsClsSep()
    {
        ModelTokenizer tokenizer = TokenizerJson.Load(Encoding.UTF8.GetBytes(TinyModels.WordPieceTokenizerJson()), "tokenizer.json");

        Assert.Equal([5, 6, 12], tokenizer.EncodeToIds("Hello WORLD!"));
        Assert.Equal([2, 7, 8, 13, 9, 3], tokenizer.EncodeForModel("The cats sat"));
        Assert.Equal([2, 1, 3], tokenizer.EncodeForModel("zebra"));
    }

    [Fact]
    public void VocabTxt_LoadsAsBert()
    {
        string dir = TinyModels.NewFolder("vocab");
        File.WriteAllLines(Path.Combine(dir, "vocab.txt"), TinyModels.EmbedderVocabulary);

        ModelTokenizer tokenizer = ModelTokenizerLoader.Load(dir);

        Assert.Equal([2, 5, 6, 12, 3], tokenizer.EncodeForModel("Hello world!"));
        Assert.Equal(TinyModels.EmbedderVocabulary.Length, tokenizer.VocabularySize);
    }

    [Fact]
    public void VocabJsonAndMerges_LoadAsByteLevelBpe()
    {
        string dir = TinyModels.NewFolder("gpt2");
        Dictionary<string, int> vocab = Enumerable.Range(0, 256).ToDictionary(TinyModels.ByteSymbol, b => b);
        vocab["he"] = 256;
        File.WriteAllText(Path.Combine(dir, "vocab.json"), System.Text.Json.JsonSerializer.Serialize(vocab));
        File.WriteAllLines(Path.Combine(dir, "merges.txt"), ["#version: 0.2", "h e"]);

        ModelTokenizer tokenizer = ModelTokenizerLoader.Load(dir);

        Assert.Equal([256, 'y', ' ', 'y', 'o'], tokenizer.EncodeToIds("hey yo"));
        Assert.Equal("hey yo", tokenizer.Decode(tokenizer.EncodeToIds("hey yo")));
    }

    [Fact]
    public void TiktokenRankFile_Loads_WithAddedTokensFromTokenizerConfig()
    {
        string dir = TinyModels.NewFolder("tiktoken");
        List<string> lines = [.. Enumerable.Range(0, 256).Select(b => Convert.ToBase64String([(byte)b]) + " " + b)];
        lines.Add(Convert.ToBase64String("he"u8.ToArray()) + " 256");
        File.WriteAllLines(Path.Combine(dir, "tokenizer.model"), lines);
        File.WriteAllText(Path.Combine(dir, "tokenizer_config.json"), """{ "added_tokens_decoder": { "257": { "content": "<|eot_id|>", "special": true } } }""");

        ModelTokenizer tokenizer = ModelTokenizerLoader.Load(dir);

        Assert.Equal([256, 'y', 257], tokenizer.EncodeToIds("hey<|eot_id|>"));
        Assert.Equal("hey", tokenizer.Decode([256, 'y', 257]));
    }

    [Fact]
    public void SentencePieceModel_Loads()
    {
        string dir = TinyModels.NewFolder("spm");
        string vocab = """[["<unk>", 0.0], ["<s>", 0.0], ["</s>", 0.0], ["\u2581hello", -1.0], ["\u2581world", -1.0], ["\u2581", -2.0], ["h", -5.0], ["e", -5.0], ["l", -5.0], ["o", -5.0]]""";
        using System.Text.Json.JsonDocument doc = System.Text.Json.JsonDocument.Parse(vocab);
        File.WriteAllBytes(Path.Combine(dir, "tokenizer.model"), SentencePieceModelWriter.Write(doc.RootElement, 0, true, [1, 2]));

        ModelTokenizer tokenizer = ModelTokenizerLoader.Load(dir);

        Assert.Equal([3, 4], tokenizer.EncodeToIds("hello world"));
        Assert.Equal("hello world", tokenizer.Decode([3, 4]));
    }

    [Fact]
    public void NoTokenizer_FailsListingWhatWasLookedFor()
    {
        FileNotFoundException error = Assert.Throws<FileNotFoundException>(() => ModelTokenizerLoader.Load(TinyModels.NewFolder("none")));

        Assert.Contains("tokenizer.json", error.Message, StringComparison.Ordinal);
        Assert.Contains("vocab.txt", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void UnsupportedTokenizerJson_NamesThePart()
    {
        string json = """{ "model": { "type": "BPE", "byte_fallback": true, "vocab": {}, "merges": [] } }""";

        NotSupportedException error = Assert.Throws<NotSupportedException>(() => TokenizerJson.Load(Encoding.UTF8.GetBytes(json), "x/tokenizer.json"));

        Assert.Contains("byte_fallback", error.Message, StringComparison.Ordinal);
        Assert.Contains("tokenizer.model", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void StreamedText_JoinsSplitCharacters_AndHoldsBackAPossibleStop()
    {
        TextStreamer streamer = new(ByteLevel.Value, ["xyz"]);
        List<string> pieces = [];
        foreach (int id in ByteLevel.Value.EncodeToIds("é ab x ok xyz tail"))
        {
            pieces.Add(streamer.Add(id));
        }

        pieces.Add(streamer.Flush());

        Assert.Equal("é ab x ok ", string.Concat(pieces));
        Assert.Equal("", pieces[0]); // the first byte of 'é' alone is no character yet
        Assert.True(streamer.Stopped);
    }

    // A model can write bytes that are no UTF-8 (a lead byte no continuation follows, a stray continuation byte): once
    // later bytes show they cannot complete a character, they decode as U+FFFD and the rest of the answer streams on —
    // the streamer does not hold it back to the end.
    [Theory]
    [InlineData(0xE2)]
    [InlineData(0x80)]
    [InlineData(0xFF)]
    public void InvalidUtf8_DoesNotHoldTheRestOfTheAnswerBack(int bad)
    {
        TextStreamer streamer = new(ByteLevel.Value, null);
        List<string> pieces = [];
        foreach (int id in (int[])['a', bad, 'b', 'c', 'd', 'e', 'f', 'g', 'h'])
        {
            pieces.Add(streamer.Add(id));
        }

        string streamed = string.Concat(pieces);
        Assert.StartsWith("a", streamed, StringComparison.Ordinal);
        Assert.EndsWith("fgh", streamed, StringComparison.Ordinal);
        Assert.Equal(string.Empty, streamer.Flush());
    }
}

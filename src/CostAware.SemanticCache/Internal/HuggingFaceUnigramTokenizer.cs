using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.ML.Tokenizers;

namespace CostAware.Internal;

// A Hugging Face tokenizer.json with a Unigram model, run on Microsoft.ML.Tokenizers: the normalizer steps are
// applied here (as the tokenizers library defines them), the Metaspace pre-tokenizer becomes SentencePiece's dummy
// prefix and whitespace escaping, and the vocabulary becomes a SentencePiece model handed to SentencePieceTokenizer.
// A normalizer, pre-tokenizer or model this adapter does not implement fails at load, naming it.
internal sealed class HuggingFaceUnigramTokenizer
{
    private readonly Func<string, string>[] _normalizers;
    private readonly SentencePieceTokenizer _tokenizer;

    private HuggingFaceUnigramTokenizer(Func<string, string>[] normalizers, SentencePieceTokenizer tokenizer, int unknownId, int vocabularySize)
    {
        _normalizers = normalizers;
        _tokenizer = tokenizer;
        UnknownId = unknownId;
        VocabularySize = vocabularySize;
    }

    public int UnknownId { get; }

    public int VocabularySize { get; }

    public static HuggingFaceUnigramTokenizer Load(byte[] tokenizerJson, string source)
    {
        using JsonDocument doc = JsonDocument.Parse(tokenizerJson);
        JsonElement root = doc.RootElement;
        JsonElement model = root.GetProperty("model");
        string modelType = model.GetProperty("type").GetString() ?? "";
        if (modelType != "Unigram")
        {
            throw Unsupported(source, "model", modelType);
        }

        List<Func<string, string>> normalizers = [];
        if (root.TryGetProperty("normalizer", out JsonElement normalizer) && normalizer.ValueKind == JsonValueKind.Object)
        {
            AddNormalizer(normalizers, normalizer, source);
        }

        bool addDummyPrefix = true;
        if (root.TryGetProperty("pre_tokenizer", out JsonElement pre) && pre.ValueKind == JsonValueKind.Object)
        {
            string type = pre.GetProperty("type").GetString() ?? "";
            if (type != "Metaspace" || (pre.TryGetProperty("replacement", out JsonElement r) && r.GetString() != "\u2581"))
            {
                throw Unsupported(source, "pre_tokenizer", type);
            }

            addDummyPrefix = !pre.TryGetProperty("prepend_scheme", out JsonElement scheme) || scheme.GetString() != "never";
        }

        int unknownId = model.TryGetProperty("unk_id", out JsonElement unk) && unk.ValueKind == JsonValueKind.Number ? unk.GetInt32() : 0;
        JsonElement vocab = model.GetProperty("vocab");
        byte[] proto = SentencePieceModelWriter.Write(vocab, unknownId, addDummyPrefix, SpecialIds(root));
        using MemoryStream stream = new(proto);
        SentencePieceTokenizer tokenizer = SentencePieceTokenizer.Create(stream, false, false);
        return new HuggingFaceUnigramTokenizer([.. normalizers], tokenizer, unknownId, vocab.GetArrayLength());
    }

    public string Normalize(string text)
    {
        foreach (Func<string, string> normalize in _normalizers)
        {
            text = normalize(text);
        }

        return text;
    }

    public IReadOnlyList<int> EncodeToIds(string text) => _tokenizer.EncodeToIds(Normalize(text));

    private static HashSet<int> SpecialIds(JsonElement root)
    {
        HashSet<int> ids = [];
        if (root.TryGetProperty("added_tokens", out JsonElement added) && added.ValueKind == JsonValueKind.Array)
        {
            foreach (JsonElement token in added.EnumerateArray())
            {
                if (token.TryGetProperty("special", out JsonElement special) && special.ValueKind == JsonValueKind.True)
                {
                    _ = ids.Add(token.GetProperty("id").GetInt32());
                }
            }
        }

        return ids;
    }

    private static void AddNormalizer(List<Func<string, string>> normalizers, JsonElement spec, string source)
    {
        string type = spec.GetProperty("type").GetString() ?? "";
        switch (type)
        {
            case "Sequence":
                foreach (JsonElement inner in spec.GetProperty("normalizers").EnumerateArray())
                {
                    AddNormalizer(normalizers, inner, source);
                }

                break;
            case "BertNormalizer":
                bool lowercase = !spec.TryGetProperty("lowercase", out JsonElement lc) || lc.ValueKind != JsonValueKind.False;
                bool cleanText = !spec.TryGetProperty("clean_text", out JsonElement ct) || ct.ValueKind != JsonValueKind.False;
                bool chinese = !spec.TryGetProperty("handle_chinese_chars", out JsonElement cc) || cc.ValueKind != JsonValueKind.False;
                // strip_accents: null follows lowercase, as in the tokenizers library.
                bool stripAccents = spec.TryGetProperty("strip_accents", out JsonElement sa) && sa.ValueKind is JsonValueKind.True or JsonValueKind.False
                    ? sa.ValueKind == JsonValueKind.True
                    : lowercase;
                normalizers.Add(text => BertNormalize(text, cleanText, chinese, stripAccents, lowercase));
                break;
            case "Lowercase":
                normalizers.Add(static text => text.ToLowerInvariant());
                break;
            case "StripAccents":
                normalizers.Add(StripAccents);
                break;
            case "NFC":
                normalizers.Add(static text => text.Normalize(NormalizationForm.FormC));
                break;
            case "NFD":
                normalizers.Add(static text => text.Normalize(NormalizationForm.FormD));
                break;
            case "NFKC":
                normalizers.Add(static text => text.Normalize(NormalizationForm.FormKC));
                break;
            case "NFKD":
                normalizers.Add(static text => text.Normalize(NormalizationForm.FormKD));
                break;
            case "Strip":
                bool left = !spec.TryGetProperty("strip_left", out JsonElement sl) || sl.ValueKind != JsonValueKind.False;
                bool right = !spec.TryGetProperty("strip_right", out JsonElement sr) || sr.ValueKind != JsonValueKind.False;
                normalizers.Add(text => left && right ? text.Trim() : left ? text.TrimStart() : right ? text.TrimEnd() : text);
                break;
            case "Replace":
                JsonElement pattern = spec.GetProperty("pattern");
                string content = spec.GetProperty("content").GetString() ?? "";
                if (pattern.TryGetProperty("String", out JsonElement literal))
                {
                    string find = literal.GetString() ?? "";
                    normalizers.Add(text => text.Replace(find, content, StringComparison.Ordinal));
                }
                else if (pattern.TryGetProperty("Regex", out JsonElement regex))
                {
                    Regex compiled = new(regex.GetString() ?? "", RegexOptions.CultureInvariant, TimeSpan.FromSeconds(1));
                    normalizers.Add(text => compiled.Replace(text, content));
                }
                else
                {
                    throw Unsupported(source, "Replace pattern", pattern.GetRawText());
                }

                break;
            default:
                throw Unsupported(source, "normalizer", type);
        }
    }

    // The tokenizers library's BertNormalizer: drop control characters and map whitespace to spaces, space out CJK
    // ideographs, strip accents (NFD, then drop non-spacing marks), lowercase.
    private static string BertNormalize(string text, bool cleanText, bool chinese, bool stripAccents, bool lowercase)
    {
        StringBuilder builder = new(text.Length + 8);
        foreach (Rune rune in text.EnumerateRunes())
        {
            int c = rune.Value;
            if (cleanText)
            {
                if (c == 0 || c == 0xFFFD || IsControl(rune))
                {
                    continue;
                }

                if (IsWhitespace(rune))
                {
                    _ = builder.Append(' ');
                    continue;
                }
            }

            if (chinese && IsChineseCharacter(c))
            {
                _ = builder.Append(' ').Append(rune.ToString()).Append(' ');
                continue;
            }

            _ = builder.Append(rune.ToString());
        }

        string result = builder.ToString();
        if (stripAccents)
        {
            result = StripAccents(result);
        }

        return lowercase ? result.ToLowerInvariant() : result;
    }

    private static string StripAccents(string text)
    {
        string decomposed = text.Normalize(NormalizationForm.FormD);
        StringBuilder builder = new(decomposed.Length);
        foreach (char c in decomposed)
        {
            if (CharUnicodeInfo.GetUnicodeCategory(c) != UnicodeCategory.NonSpacingMark)
            {
                _ = builder.Append(c);
            }
        }

        return builder.ToString();
    }

    private static bool IsWhitespace(Rune rune) =>
        rune.Value is '\t' or '\n' or '\r' or ' ' || Rune.GetUnicodeCategory(rune) == UnicodeCategory.SpaceSeparator;

    private static bool IsControl(Rune rune) =>
        rune.Value is not ('\t' or '\n' or '\r')
        && Rune.GetUnicodeCategory(rune) is UnicodeCategory.Control or UnicodeCategory.Format or UnicodeCategory.OtherNotAssigned or UnicodeCategory.PrivateUse;

    private static bool IsChineseCharacter(int c) =>
        c is (>= 0x4E00 and <= 0x9FFF) or (>= 0x3400 and <= 0x4DBF) or (>= 0x20000 and <= 0x2A6DF) or (>= 0x2A700 and <= 0x2B73F)
            or (>= 0x2B740 and <= 0x2B81F) or (>= 0x2B820 and <= 0x2CEAF) or (>= 0xF900 and <= 0xFAFF) or (>= 0x2F800 and <= 0x2FA1F);

    private static NotSupportedException Unsupported(string source, string what, string type) =>
        new($"'{source}': the {what} '{type}' is not supported; Model2Vec models with a Unigram tokenizer (Metaspace pre-tokenizer) are.");
}

using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace CostAware.Shared;

// The normalizers of Hugging Face tokenizer.json files, as the tokenizers library defines them, applied before the
// text reaches a Microsoft.ML.Tokenizers model. A normalizer not implemented here fails at load, naming it.
internal static class HuggingFaceNormalizers
{
    public static Func<string, string>? Load(JsonElement root, string source)
    {
        if (!root.TryGetProperty("normalizer", out JsonElement normalizer) || normalizer.ValueKind != JsonValueKind.Object)
        {
            return null;
        }

        List<Func<string, string>> steps = [];
        Add(steps, normalizer, source);
        Func<string, string>[] all = [.. steps];
        return all.Length switch
        {
            0 => null,
            1 => all[0],
            _ => text =>
            {
                foreach (Func<string, string> step in all)
                {
                    text = step(text);
                }

                return text;
            },
        };
    }

    // A BertNormalizer's settings, defaults as in the tokenizers library (strip_accents null follows lowercase).
    public static BertSettings ReadBert(JsonElement spec)
    {
        bool lowercase = !spec.TryGetProperty("lowercase", out JsonElement lc) || lc.ValueKind != JsonValueKind.False;
        bool cleanText = !spec.TryGetProperty("clean_text", out JsonElement ct) || ct.ValueKind != JsonValueKind.False;
        bool chinese = !spec.TryGetProperty("handle_chinese_chars", out JsonElement cc) || cc.ValueKind != JsonValueKind.False;
        bool stripAccents = spec.TryGetProperty("strip_accents", out JsonElement sa) && sa.ValueKind is JsonValueKind.True or JsonValueKind.False
            ? sa.ValueKind == JsonValueKind.True
            : lowercase;
        return new BertSettings(lowercase, cleanText, chinese, stripAccents);
    }

    public static void Add(List<Func<string, string>> normalizers, JsonElement spec, string source)
    {
        string type = spec.GetProperty("type").GetString() ?? "";
        switch (type)
        {
            case "Sequence":
                foreach (JsonElement inner in spec.GetProperty("normalizers").EnumerateArray())
                {
                    Add(normalizers, inner, source);
                }

                break;
            case "BertNormalizer":
                BertSettings bert = ReadBert(spec);
                normalizers.Add(text => BertNormalize(text, bert.CleanText, bert.Chinese, bert.StripAccents, bert.Lowercase));
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
                    throw TokenizerJson.Unsupported(source, "Replace pattern", pattern.GetRawText());
                }

                break;
            default:
                throw TokenizerJson.Unsupported(source, "normalizer", type);
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

    internal readonly record struct BertSettings(bool Lowercase, bool CleanText, bool Chinese, bool StripAccents);
}

using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.ML.Tokenizers;

namespace CostAware.Shared;

// Loads a Hugging Face tokenizer.json onto Microsoft.ML.Tokenizers, which has no loader for it. Dispatches on the
// model type: byte-level BPE (GPT-2, Qwen, Llama 3, Phi-4) becomes a BpeTokenizer with the file's split regex,
// WordPiece (BERT family) a BertTokenizer, Unigram (T5, Model2Vec) a SentencePiece tokenizer from the vocabulary. The
// normalizers the file lists are applied here. Anything this loader does not implement fails at load, naming it;
// SentencePiece-style BPE (byte_fallback, Metaspace: Llama 2, Mistral, Phi-3) is one of them, because those models
// ship tokenizer.model, which SentencePieceTokenizer reads directly.
internal static class TokenizerJson
{
    // The GPT-2 split, used by ByteLevel pre-tokenizers with use_regex.
    internal const string Gpt2Pattern = @"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+";

    public static ModelTokenizer Load(byte[] tokenizerJson, string source)
    {
        // A UTF-8 byte-order mark, which some editors write, is not JSON.
        ReadOnlyMemory<byte> json = tokenizerJson.AsSpan().StartsWith((ReadOnlySpan<byte>)[0xEF, 0xBB, 0xBF]) ? tokenizerJson.AsMemory(3) : tokenizerJson;
        using JsonDocument doc = JsonDocument.Parse(json);
        JsonElement root = doc.RootElement;
        JsonElement model = root.GetProperty("model");
        string modelType = model.TryGetProperty("type", out JsonElement t) ? t.GetString() ?? "" : "";
        Dictionary<string, int> added = AddedTokens(root, specialOnly: false);
        return modelType switch
        {
            "BPE" => LoadBpe(root, model, added, source),
            "WordPiece" => LoadWordPiece(root, model, added, source),
            "Unigram" => LoadUnigram(root, model, added, source),
            _ => throw Unsupported(source, "model", modelType),
        };
    }

    internal static NotSupportedException Unsupported(string source, string what, string type) =>
        new($"'{source}': the {what} '{type}' is not supported. Supported tokenizer.json models: byte-level BPE, WordPiece, Unigram (Metaspace); SentencePiece-style BPE models load from their tokenizer.model.");

    private static ModelTokenizer LoadBpe(JsonElement root, JsonElement model, Dictionary<string, int> added, string source)
    {
        if (model.TryGetProperty("byte_fallback", out JsonElement fallback) && fallback.ValueKind == JsonValueKind.True)
        {
            throw Unsupported(source, "BPE variant", "byte_fallback (SentencePiece BPE)");
        }

        string? pattern = null;
        bool byteLevel = false;
        if (root.TryGetProperty("pre_tokenizer", out JsonElement pre) && pre.ValueKind == JsonValueKind.Object)
        {
            ReadPreTokenizer(pre, source, ref pattern, ref byteLevel);
        }

        if (!byteLevel && root.TryGetProperty("decoder", out JsonElement decoder) && decoder.ValueKind == JsonValueKind.Object
            && decoder.TryGetProperty("type", out JsonElement dt) && dt.GetString() == "ByteLevel")
        {
            byteLevel = true;
        }

        if (!byteLevel)
        {
            throw Unsupported(source, "BPE variant", "not byte-level");
        }

        Dictionary<string, int> vocab = [];
        foreach (JsonProperty entry in model.GetProperty("vocab").EnumerateObject())
        {
            vocab[entry.Name] = entry.Value.GetInt32();
        }

        List<string> merges = [];
        if (model.TryGetProperty("merges", out JsonElement mergeList))
        {
            foreach (JsonElement merge in mergeList.EnumerateArray())
            {
                merges.Add(merge.ValueKind == JsonValueKind.Array ? $"{merge[0].GetString()} {merge[1].GetString()}" : merge.GetString() ?? "");
            }
        }

        Regex split = new(pattern ?? @"(?s).+", RegexOptions.Compiled | RegexOptions.CultureInvariant);
        BpeOptions options = new(vocab)
        {
            Merges = merges,
            ByteLevel = true,
            SpecialTokens = added,
            PreTokenizer = new RegexPreTokenizer(split, added),
        };
        if (model.TryGetProperty("unk_token", out JsonElement unk) && unk.ValueKind == JsonValueKind.String)
        {
            options.UnknownToken = unk.GetString();
        }

        BpeTokenizer tokenizer = BpeTokenizer.Create(options);
        int size = Math.Max(vocab.Count == 0 ? 0 : vocab.Values.Max() + 1, added.Count == 0 ? 0 : added.Values.Max() + 1);
        int? unknownId = options.UnknownToken is { } u && vocab.TryGetValue(u, out int id) ? id : null;
        return new ModelTokenizer(tokenizer, HuggingFaceNormalizers.Load(root, source), added, unknownId, size);
    }

    private static void ReadPreTokenizer(JsonElement pre, string source, ref string? pattern, ref bool byteLevel)
    {
        string type = pre.GetProperty("type").GetString() ?? "";
        switch (type)
        {
            case "Sequence":
                foreach (JsonElement inner in pre.GetProperty("pretokenizers").EnumerateArray())
                {
                    ReadPreTokenizer(inner, source, ref pattern, ref byteLevel);
                }

                break;
            case "ByteLevel":
                byteLevel = true;
                if (!pre.TryGetProperty("use_regex", out JsonElement useRegex) || useRegex.ValueKind != JsonValueKind.False)
                {
                    pattern ??= Gpt2Pattern;
                }

                if (pre.TryGetProperty("add_prefix_space", out JsonElement prefix) && prefix.ValueKind == JsonValueKind.True)
                {
                    throw Unsupported(source, "ByteLevel option", "add_prefix_space");
                }

                break;
            case "Split":
                if (pattern is not null)
                {
                    throw Unsupported(source, "pre_tokenizer", "more than one Split");
                }

                JsonElement p = pre.GetProperty("pattern");
                pattern = p.TryGetProperty("Regex", out JsonElement regex) ? regex.GetString()
                    : p.TryGetProperty("String", out JsonElement literal) ? Regex.Escape(literal.GetString() ?? "")
                    : throw Unsupported(source, "Split pattern", p.GetRawText());
                string behavior = pre.TryGetProperty("behavior", out JsonElement b) ? b.GetString() ?? "" : "Isolated";
                if (behavior != "Isolated")
                {
                    throw Unsupported(source, "Split behavior", behavior);
                }

                break;
            default:
                throw Unsupported(source, "pre_tokenizer", type);
        }
    }

    private static ModelTokenizer LoadWordPiece(JsonElement root, JsonElement model, Dictionary<string, int> added, string source)
    {
        SortedDictionary<int, string> byId = [];
        foreach (JsonProperty entry in model.GetProperty("vocab").EnumerateObject())
        {
            byId[entry.Value.GetInt32()] = entry.Name;
        }

        if (byId.Count == 0 || byId.Keys.Last() != byId.Count - 1)
        {
            throw new InvalidDataException($"'{source}': the WordPiece vocabulary's ids must run 0..{byId.Count - 1} without gaps.");
        }

        StringBuilder lines = new();
        foreach (string token in byId.Values)
        {
            _ = lines.Append(token).Append('\n');
        }

        // The BertTokenizer applies BERT's normalisation itself, with the normalizer's settings; other normalizers run first.
        HuggingFaceNormalizers.BertSettings bert = default;
        Func<string, string>? normalize = null;
        if (root.TryGetProperty("normalizer", out JsonElement normalizer) && normalizer.ValueKind == JsonValueKind.Object)
        {
            if (normalizer.GetProperty("type").GetString() == "BertNormalizer")
            {
                bert = HuggingFaceNormalizers.ReadBert(normalizer);
            }
            else
            {
                normalize = HuggingFaceNormalizers.Load(root, source);
            }
        }

        BertOptions options = new()
        {
            LowerCaseBeforeTokenization = bert.Lowercase,
            RemoveNonSpacingMarks = bert.StripAccents,
            IndividuallyTokenizeCjk = bert.Chinese,
            ApplyBasicTokenization = true,
            SplitOnSpecialTokens = true,
        };
        if (model.TryGetProperty("unk_token", out JsonElement unk) && unk.GetString() is { } unknown)
        {
            options.UnknownToken = unknown;
        }

        if (model.TryGetProperty("continuing_subword_prefix", out JsonElement prefix) && prefix.GetString() is { } continuing)
        {
            options.ContinuingSubwordPrefix = continuing;
        }

        using MemoryStream stream = new(Encoding.UTF8.GetBytes(lines.ToString()));
        BertTokenizer tokenizer = BertTokenizer.Create(stream, options);
        bool postProcess = root.TryGetProperty("post_processor", out JsonElement post) && post.ValueKind == JsonValueKind.Object;
        Func<string, IReadOnlyList<int>>? forModel = postProcess ? text => tokenizer.EncodeToIds(text, addSpecialTokens: true) : null;
        Dictionary<string, int> special = AddedTokens(root, specialOnly: true);
        return new ModelTokenizer(
            tokenizer, normalize, special, tokenizer.UnknownTokenId, byId.Count, forModel, text => tokenizer.EncodeToIds(text, addSpecialTokens: false));
    }

    private static ModelTokenizer LoadUnigram(JsonElement root, JsonElement model, Dictionary<string, int> added, string source)
    {
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
        Dictionary<string, int> special = AddedTokens(root, specialOnly: true);
        List<(string Piece, float Score)> pieces = new(vocab.GetArrayLength());
        foreach (JsonElement entry in vocab.EnumerateArray())
        {
            pieces.Add((entry[0].GetString() ?? "", (float)entry[1].GetDouble()));
        }

        // Normalisation stays with the tokenizer.json's own normalizer (HuggingFaceNormalizers); only the dummy prefix
        // and whitespace escaping (the Metaspace pre-tokenizer) are SentencePiece's.
        SentencePieceTokenizer tokenizer = SentencePieceTokenizer.Create(
            pieces,
            unknownId,
            addBeginningOfSentence: false,
            addEndOfSentence: false,
            precompiledCharsMap: default,
            addDummyPrefix: addDummyPrefix,
            escapeWhiteSpaces: true,
            treatWhitespaceAsSuffix: false,
            byteFallback: false,
            specialTokens: special.Count == 0 ? null : special);
        return new ModelTokenizer(tokenizer, HuggingFaceNormalizers.Load(root, source), special, unknownId, vocab.GetArrayLength());
    }

    internal static Dictionary<string, int> AddedTokens(JsonElement root, bool specialOnly)
    {
        Dictionary<string, int> tokens = new(StringComparer.Ordinal);
        if (root.TryGetProperty("added_tokens", out JsonElement added) && added.ValueKind == JsonValueKind.Array)
        {
            foreach (JsonElement token in added.EnumerateArray())
            {
                bool special = token.TryGetProperty("special", out JsonElement s) && s.ValueKind == JsonValueKind.True;
                if (special || !specialOnly)
                {
                    tokens[token.GetProperty("content").GetString() ?? ""] = token.GetProperty("id").GetInt32();
                }
            }
        }

        return tokens;
    }
}

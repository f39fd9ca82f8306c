using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.ML.Tokenizers;

namespace CostAware.Shared;

// Finds and loads the tokenizer shipped in a model folder, in this order: tokenizer.json (see TokenizerJson; when it
// is a SentencePiece-style BPE and tokenizer.model is there, that is used instead), tokenizer.model (SentencePiece
// protobuf, or a tiktoken rank file as Llama 3's original release ships it), vocab.json + merges.txt (byte-level BPE),
// vocab.txt (BERT WordPiece), *.tiktoken. Added tokens come from tokenizer.json or tokenizer_config.json.
internal static class ModelTokenizerLoader
{
    // cl100k's split: tiktoken rank files carry no pre-tokenizer of their own.
    private const string TiktokenPattern = @"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

    private static readonly System.Buffers.SearchValues<char> Base64Characters =
        System.Buffers.SearchValues.Create("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=");

    // lowerCase: for a bare vocab.txt, whether text is lower-cased first; null reads tokenizer_config.json's
    // do_lower_case and treats the vocabulary as uncased without one.
    public static ModelTokenizer Load(string directory, bool? lowerCase = null)
    {
        string json = Path.Combine(directory, "tokenizer.json");
        string model = Path.Combine(directory, "tokenizer.model");
        if (File.Exists(json))
        {
            try
            {
                return TokenizerJson.Load(File.ReadAllBytes(json), json);
            }
            catch (NotSupportedException) when (File.Exists(model))
            {
                // SentencePiece-style BPE in tokenizer.json: its tokenizer.model is the same tokenizer.
            }
        }

        Dictionary<string, int> added = ConfigAddedTokens(directory);
        if (File.Exists(model))
        {
            return IsTiktoken(model) ? LoadTiktoken(model, added) : LoadSentencePiece(model, added);
        }

        string vocabJson = Path.Combine(directory, "vocab.json");
        string merges = Path.Combine(directory, "merges.txt");
        if (File.Exists(vocabJson) && File.Exists(merges))
        {
            return LoadVocabAndMerges(vocabJson, merges, added);
        }

        string vocabTxt = Path.Combine(directory, "vocab.txt");
        if (File.Exists(vocabTxt))
        {
            return LoadVocabTxt(directory, vocabTxt, lowerCase);
        }

        string? tiktoken = Directory.Exists(directory) ? Directory.EnumerateFiles(directory, "*.tiktoken").Order(StringComparer.Ordinal).FirstOrDefault() : null;
        return tiktoken is not null
            ? LoadTiktoken(tiktoken, added)
            : throw new FileNotFoundException(
                $"The model folder '{directory}' has no tokenizer: expected tokenizer.json, tokenizer.model, vocab.json with merges.txt, vocab.txt or a *.tiktoken file.");
    }

    private static ModelTokenizer LoadSentencePiece(string path, Dictionary<string, int> added)
    {
        using FileStream stream = File.OpenRead(path);
        SentencePieceTokenizer tokenizer = SentencePieceTokenizer.Create(stream, false, false, added.Count == 0 ? null : added);
        int size = Math.Max(tokenizer.Vocabulary.Count, added.Count == 0 ? 0 : added.Values.Max() + 1);
        Dictionary<string, int> special = new(added, StringComparer.Ordinal)
        {
            [tokenizer.BeginningOfSentenceToken] = tokenizer.BeginningOfSentenceId,
            [tokenizer.EndOfSentenceToken] = tokenizer.EndOfSentenceId,
        };
        return new ModelTokenizer(tokenizer, null, special, tokenizer.UnknownId, size);
    }

    private static ModelTokenizer LoadTiktoken(string path, Dictionary<string, int> added)
    {
        Regex split = new(TiktokenPattern, RegexOptions.Compiled | RegexOptions.CultureInvariant);
        TiktokenTokenizer tokenizer = TiktokenTokenizer.Create(path, new RegexPreTokenizer(split, added), null, added);
        int ranks = File.ReadLines(path).Count(line => line.Length > 0);
        int size = Math.Max(ranks, added.Count == 0 ? 0 : added.Values.Max() + 1);
        return new ModelTokenizer(tokenizer, null, added, null, size);
    }

    private static ModelTokenizer LoadVocabAndMerges(string vocabPath, string mergesPath, Dictionary<string, int> added)
    {
        Dictionary<string, int> vocab = JsonSerializer.Deserialize<Dictionary<string, int>>(File.ReadAllBytes(vocabPath))
            ?? throw new InvalidDataException($"'{vocabPath}' is not a JSON object of token ids.");
        List<string> merges = [.. File.ReadLines(mergesPath).Where(line => line.Length > 0 && !line.StartsWith("#version", StringComparison.Ordinal))];
        Regex split = new(TokenizerJson.Gpt2Pattern, RegexOptions.Compiled | RegexOptions.CultureInvariant);
        BpeTokenizer tokenizer = BpeTokenizer.Create(new BpeOptions(vocab)
        {
            Merges = merges,
            ByteLevel = true,
            SpecialTokens = added,
            PreTokenizer = new RegexPreTokenizer(split, added),
        });
        int size = Math.Max(vocab.Values.DefaultIfEmpty(-1).Max() + 1, added.Values.DefaultIfEmpty(-1).Max() + 1);
        return new ModelTokenizer(tokenizer, null, added, null, size);
    }

    private static ModelTokenizer LoadVocabTxt(string directory, string vocabPath, bool? lowerCase)
    {
        bool lowercase = lowerCase ?? true;
        string config = Path.Combine(directory, "tokenizer_config.json");
        if (lowerCase is null && File.Exists(config))
        {
            using JsonDocument doc = JsonDocument.Parse(File.ReadAllText(config));
            lowercase = !doc.RootElement.TryGetProperty("do_lower_case", out JsonElement lc) || lc.ValueKind != JsonValueKind.False;
        }

        BertTokenizer tokenizer = BertTokenizer.Create(vocabPath, new BertOptions
        {
            LowerCaseBeforeTokenization = lowercase,
            RemoveNonSpacingMarks = lowercase,
            ApplyBasicTokenization = true,
            SplitOnSpecialTokens = true,
        });
        Dictionary<string, int> special = new(StringComparer.Ordinal)
        {
            [tokenizer.ClassificationToken] = tokenizer.ClassificationTokenId,
            [tokenizer.SeparatorToken] = tokenizer.SeparatorTokenId,
            [tokenizer.PaddingToken] = tokenizer.PaddingTokenId,
            [tokenizer.MaskingToken] = tokenizer.MaskingTokenId,
        };
        int size = File.ReadLines(vocabPath, Encoding.UTF8).Count();
        return new ModelTokenizer(
            tokenizer,
            null,
            special,
            tokenizer.UnknownTokenId,
            size,
            text => tokenizer.EncodeToIds(text, addSpecialTokens: true),
            text => tokenizer.EncodeToIds(text, addSpecialTokens: false));
    }

    // tokenizer_config.json's added_tokens_decoder: { "151643": { "content": "<|endoftext|>", "special": true }, … }.
    private static Dictionary<string, int> ConfigAddedTokens(string directory)
    {
        Dictionary<string, int> added = new(StringComparer.Ordinal);
        string config = Path.Combine(directory, "tokenizer_config.json");
        if (!File.Exists(config))
        {
            return added;
        }

        using JsonDocument doc = JsonDocument.Parse(File.ReadAllText(config));
        if (doc.RootElement.TryGetProperty("added_tokens_decoder", out JsonElement decoder) && decoder.ValueKind == JsonValueKind.Object)
        {
            foreach (JsonProperty entry in decoder.EnumerateObject())
            {
                if (int.TryParse(entry.Name, System.Globalization.CultureInfo.InvariantCulture, out int id)
                    && entry.Value.TryGetProperty("content", out JsonElement content) && content.GetString() is { } text)
                {
                    added[text] = id;
                }
            }
        }

        return added;
    }

    // A tiktoken rank file is lines of "<base64> <rank>"; a SentencePiece model is binary protobuf.
    private static bool IsTiktoken(string path)
    {
        using StreamReader reader = new(path);
        char[] head = new char[256];
        int read = reader.Read(head, 0, head.Length);
        string first = new string(head, 0, read).Split('\n')[0];
        int space = first.IndexOf(' ', StringComparison.Ordinal);
        return space > 0 && int.TryParse(first.AsSpan(space + 1), System.Globalization.CultureInfo.InvariantCulture, out _)
            && first.AsSpan(0, space).IndexOfAnyExcept(Base64Characters) < 0;
    }
}

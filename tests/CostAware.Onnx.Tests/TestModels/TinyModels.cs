using System.Text;
using System.Text.Json;

namespace CostAware.Onnx.Tests.TestModels;

// Tiny models whose answers are known in advance, written to temporary folders in the layouts real exports use.
//
// Decoders: the vocabulary is the 256 byte-level BPE symbols (id = byte), three specials and three merges. The token
// embedding is the identity and lm_head maps token t to Successor(t) with weight 10, so greedy decoding after t yields
// Successor(t) whatever the cache holds: (t + 1) mod V, except that 'f' is followed by <|im_end|> (end of turn). The
// KV cache still changes every logit a little (a projection of the mean of the cached values is added), so a wrong
// cache, mask or position shows up as different logits.
internal static class TinyModels
{
    public const int ImStart = 256;
    public const int ImEnd = 257;
    public const int EndOfText = 258;
    public const int Vocabulary = 264;
    public const int Positions = 512;
    public const int HeadSize = 16;

    public static int Successor(int token) => token == 'f' ? ImEnd : (token + 1) % Vocabulary;

    // Optimum layout: config.json + generation_config.json, model.onnx, tokenizer.json; attention concatenates onto the cache.
    public static string ConcatDecoder()
    {
        string dir = NewFolder("concat-decoder");
        File.WriteAllBytes(Path.Combine(dir, "model.onnx"), ConcatDecoderModel());
        WriteJson(dir, "config.json", new
        {
            model_type = "qwen2",
            bos_token_id = EndOfText,
            eos_token_id = EndOfText,
            max_position_embeddings = Positions,
            num_attention_heads = 1,
            num_key_value_heads = 1,
            hidden_size = HeadSize,
            vocab_size = Vocabulary,
        });
        WriteJson(dir, "generation_config.json", new { eos_token_id = new[] { ImEnd, EndOfText }, do_sample = false });
        File.WriteAllText(Path.Combine(dir, "tokenizer.json"), ByteLevelTokenizerJson());
        return dir;
    }

    // Model-builder layout: genai_config.json (shared past/present buffer), model.onnx with GroupQueryAttention.
    public static string GqaDecoder(bool shareBuffer = true)
    {
        string dir = NewFolder("gqa-decoder");
        File.WriteAllBytes(Path.Combine(dir, "model.onnx"), GqaDecoderModel());
        WriteJson(dir, "genai_config.json", new
        {
            model = new
            {
                type = "qwen2",
                bos_token_id = EndOfText,
                eos_token_id = new[] { ImEnd, EndOfText },
                pad_token_id = EndOfText,
                vocab_size = Vocabulary,
                context_length = Positions,
                decoder = new
                {
                    filename = "model.onnx",
                    head_size = HeadSize,
                    hidden_size = HeadSize,
                    num_attention_heads = 1,
                    num_key_value_heads = 1,
                    num_hidden_layers = 1,
                    inputs = new { input_ids = "input_ids", attention_mask = "attention_mask", past_key_names = "past_key_values.%d.key", past_value_names = "past_key_values.%d.value" },
                    outputs = new { logits = "logits", present_key_names = "present.%d.key", present_value_names = "present.%d.value" },
                },
            },
            search = new { do_sample = false, max_length = Positions, past_present_share_buffer = shareBuffer },
        });
        File.WriteAllText(Path.Combine(dir, "tokenizer.json"), ByteLevelTokenizerJson());

        // ONNX Runtime GenAI's tokenizer opens tokenizer_config.json beside tokenizer.json and fails without one.
        WriteJson(dir, "tokenizer_config.json", new { eos_token = "<|im_end|>", pad_token = "<|endoftext|>", tokenizer_class = "PreTrainedTokenizerFast" });
        return dir;
    }

    public static byte[] ConcatDecoderModel()
    {
        OnnxGraph g = new();
        AddCommonWeights(g);
        g.Init("wpe", Deterministic(Positions * Vocabulary, 3, 0.01f), Positions, Vocabulary)
            .Init("ax1", [1L], 1).Init("ax2", [2L], 1).Init("ax13", [1L, 3L], 2)
            .Input("input_ids", OnnxGraph.Int64, "batch_size", "sequence_length")
            .Input("attention_mask", OnnxGraph.Int64, "batch_size", "total_sequence_length")
            .Input("position_ids", OnnxGraph.Int64, "batch_size", "sequence_length")
            .Input("past_key_values.0.key", OnnxGraph.Float, "batch_size", 1, "past_sequence_length", HeadSize)
            .Input("past_key_values.0.value", OnnxGraph.Float, "batch_size", 1, "past_sequence_length", HeadSize)
            .Node("Gather", ["wte", "input_ids"], ["tok"])
            .Node("Gather", ["wpe", "position_ids"], ["pos"])
            .Node("Add", ["tok", "pos"], ["h"])
            .Node("MatMul", ["h", "wk"], ["k3"])
            .Node("MatMul", ["h", "wv"], ["v3"])
            .Node("Unsqueeze", ["k3", "ax1"], ["k"])
            .Node("Unsqueeze", ["v3", "ax1"], ["v"])
            .Node("Concat", ["past_key_values.0.key", "k"], ["present.0.key"], "", OnnxGraph.AttrInt("axis", 2))
            .Node("Concat", ["past_key_values.0.value", "v"], ["present.0.value"], "", OnnxGraph.AttrInt("axis", 2))
            .Node("Cast", ["attention_mask"], ["maskf"], "", OnnxGraph.AttrInt("to", OnnxGraph.Float))
            .Node("Unsqueeze", ["maskf", "ax13"], ["mask4"])
            .Node("Mul", ["present.0.value", "mask4"], ["masked"])
            .Node("ReduceSum", ["masked", "ax2"], ["num"], "", OnnxGraph.AttrInt("keepdims", 0))
            .Node("ReduceSum", ["mask4", "ax2"], ["den"], "", OnnxGraph.AttrInt("keepdims", 0))
            .Node("Div", ["num", "den"], ["mean"]);
        AddHead(g, "mean");
        return g.Output("logits", OnnxGraph.Float, "batch_size", "sequence_length", Vocabulary)
            .Output("present.0.key", OnnxGraph.Float, "batch_size", 1, "total_sequence_length", HeadSize)
            .Output("present.0.value", OnnxGraph.Float, "batch_size", 1, "total_sequence_length", HeadSize)
            .Model();
    }

    public static byte[] GqaDecoderModel()
    {
        OnnxGraph g = new();
        AddCommonWeights(g);
        g.Init("wq", Deterministic(Vocabulary * HeadSize, 4, 1f), Vocabulary, HeadSize)
            .Init("ax1", [1L], 1).Init("one", [1L], 1).Init("idx1", [1L], 1)
            .Input("input_ids", OnnxGraph.Int64, "batch_size", "sequence_length")
            .Input("attention_mask", OnnxGraph.Int64, "batch_size", "total_sequence_length")
            .Input("past_key_values.0.key", OnnxGraph.Float, "batch_size", 1, "past_sequence_length", HeadSize)
            .Input("past_key_values.0.value", OnnxGraph.Float, "batch_size", 1, "past_sequence_length", HeadSize)
            .Node("Gather", ["wte", "input_ids"], ["h"])
            .Node("MatMul", ["h", "wq"], ["q"])
            .Node("MatMul", ["h", "wk"], ["k"])
            .Node("MatMul", ["h", "wv"], ["v"])
            .Node("ReduceSum", ["attention_mask", "ax1"], ["lens"], "", OnnxGraph.AttrInt("keepdims", 0))
            .Node("Sub", ["lens", "one"], ["lens1"])
            .Node("Cast", ["lens1"], ["seqlens_k"], "", OnnxGraph.AttrInt("to", OnnxGraph.Int32))
            .Node("Shape", ["attention_mask"], ["mshape"])
            .Node("Gather", ["mshape", "idx1"], ["total1"], "", OnnxGraph.AttrInt("axis", 0))
            .Node("Cast", ["total1"], ["total_sequence_length"], "", OnnxGraph.AttrInt("to", OnnxGraph.Int32))
            .Node(
                "GroupQueryAttention",
                ["q", "k", "v", "past_key_values.0.key", "past_key_values.0.value", "seqlens_k", "total_sequence_length"],
                ["attn", "present.0.key", "present.0.value"],
                "com.microsoft",
                OnnxGraph.AttrInt("num_heads", 1),
                OnnxGraph.AttrInt("kv_num_heads", 1));
        AddHead(g, "attn");
        return g.Output("logits", OnnxGraph.Float, "batch_size", "sequence_length", Vocabulary)
            .Output("present.0.key", OnnxGraph.Float, "batch_size", 1, "total_sequence_length", HeadSize)
            .Output("present.0.value", OnnxGraph.Float, "batch_size", 1, "total_sequence_length", HeadSize)
            .Model(microsoftDomain: true);
    }

    private static void AddCommonWeights(OnnxGraph g)
    {
        float[] identity = new float[Vocabulary * Vocabulary];
        float[] head = new float[Vocabulary * Vocabulary];
        for (int t = 0; t < Vocabulary; t++)
        {
            identity[(t * Vocabulary) + t] = 1;
            head[(t * Vocabulary) + Successor(t)] = 10;
        }

        _ = g.Init("wte", identity, Vocabulary, Vocabulary)
            .Init("lm_head", head, Vocabulary, Vocabulary)
            .Init("wk", Deterministic(Vocabulary * HeadSize, 1, 1f), Vocabulary, HeadSize)
            .Init("wv", Deterministic(Vocabulary * HeadSize, 2, 1f), Vocabulary, HeadSize)
            .Init("wo", Deterministic(HeadSize * Vocabulary, 5, 0.1f), HeadSize, Vocabulary);
    }

    // logits = h · lm_head + mix · wo, where mix is [batch, 1 or sequence, 16] from the cache.
    private static void AddHead(OnnxGraph g, string mix) =>
        _ = g.Node("MatMul", ["h", "lm_head"], ["main"])
            .Node("MatMul", [mix, "wo"], ["side"])
            .Node("Add", ["main", "side"], ["logits"]);

    // BERT-like embedder: last_hidden_state = E[input_ids] + T[token_type_ids]; sentence_embedding = masked mean.
    public const int EmbeddingSize = 8;
    public static readonly string[] EmbedderVocabulary = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "hello", "world", "the", "cat", "sat", "on", "mat", "!", "##s", "dog", "a"];

    public static float[] EmbedderTable => Deterministic(EmbedderVocabulary.Length * EmbeddingSize, 7, 1f);

    public static float[] TypeTable => Deterministic(2 * EmbeddingSize, 8, 0.5f);

    public static string Embedder(bool withSentenceEmbedding, bool tokenizerJson = false)
    {
        string dir = NewFolder("embedder");
        OnnxGraph g = new OnnxGraph()
            .Init("emb", EmbedderTable, EmbedderVocabulary.Length, EmbeddingSize)
            .Init("types", TypeTable, 2, EmbeddingSize)
            .Input("input_ids", OnnxGraph.Int64, "batch_size", "sequence_length")
            .Input("attention_mask", OnnxGraph.Int64, "batch_size", "sequence_length")
            .Input("token_type_ids", OnnxGraph.Int64, "batch_size", "sequence_length")
            .Node("Gather", ["emb", "input_ids"], ["e"])
            .Node("Gather", ["types", "token_type_ids"], ["tt"])
            .Node("Add", ["e", "tt"], ["last_hidden_state"])
            .Output("last_hidden_state", OnnxGraph.Float, "batch_size", "sequence_length", EmbeddingSize);
        if (withSentenceEmbedding)
        {
            _ = g.Init("ax1", [1L], 1).Init("ax2", [2L], 1)
                .Node("Cast", ["attention_mask"], ["mf"], "", OnnxGraph.AttrInt("to", OnnxGraph.Float))
                .Node("Unsqueeze", ["mf", "ax2"], ["m3"])
                .Node("Mul", ["last_hidden_state", "m3"], ["masked"])
                .Node("ReduceSum", ["masked", "ax1"], ["sum"], "", OnnxGraph.AttrInt("keepdims", 0))
                .Node("ReduceSum", ["m3", "ax1"], ["count"], "", OnnxGraph.AttrInt("keepdims", 0))
                .Node("Div", ["sum", "count"], ["sentence_embedding"])
                .Output("sentence_embedding", OnnxGraph.Float, "batch_size", EmbeddingSize);
        }

        File.WriteAllBytes(Path.Combine(dir, "model.onnx"), g.Model());
        if (tokenizerJson)
        {
            File.WriteAllText(Path.Combine(dir, "tokenizer.json"), WordPieceTokenizerJson());
        }
        else
        {
            File.WriteAllLines(Path.Combine(dir, "vocab.txt"), EmbedderVocabulary);
        }

        WriteJson(dir, "config.json", new { model_type = "bert", max_position_embeddings = 32, hidden_size = EmbeddingSize });
        return dir;
    }

    public static string WordPieceTokenizerJson() => JsonSerializer.Serialize(new
    {
        version = "1.0",
        added_tokens = new[] { 0, 1, 2, 3, 4 }.Select(id => new { id, content = EmbedderVocabulary[id], special = true }),
        normalizer = new { type = "BertNormalizer", clean_text = true, handle_chinese_chars = true, strip_accents = (bool?)null, lowercase = true },
        pre_tokenizer = new { type = "BertPreTokenizer" },
        post_processor = new { type = "BertProcessing", sep = new object[] { "[SEP]", 3 }, cls = new object[] { "[CLS]", 2 } },
        model = new
        {
            type = "WordPiece",
            unk_token = "[UNK]",
            continuing_subword_prefix = "##",
            max_input_chars_per_word = 100,
            vocab = EmbedderVocabulary.Select((token, id) => (token, id)).ToDictionary(p => p.token, p => p.id),
        },
    });

    // A byte-level BPE tokenizer.json in the Qwen2 layout: Split(regex) then ByteLevel, specials as added tokens.
    public static string ByteLevelTokenizerJson()
    {
        Dictionary<string, int> vocab = [];
        for (int b = 0; b < 256; b++)
        {
            vocab[ByteSymbol(b)] = b;
        }

        vocab["he"] = 259;
        vocab["ll"] = 260;
        vocab["hell"] = 261;
        vocab["<unused0>"] = 262;
        vocab["<unused1>"] = 263;
        return JsonSerializer.Serialize(new
        {
            version = "1.0",
            added_tokens = new[]
            {
                new { id = ImStart, content = "<|im_start|>", special = true },
                new { id = ImEnd, content = "<|im_end|>", special = true },
                new { id = EndOfText, content = "<|endoftext|>", special = true },
            },
            normalizer = new { type = "NFC" },
            pre_tokenizer = new
            {
                type = "Sequence",
                pretokenizers = new object[]
                {
                    new { type = "Split", pattern = new { Regex = @"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+" }, behavior = "Isolated", invert = false },
                    new { type = "ByteLevel", add_prefix_space = false, trim_offsets = false, use_regex = false },
                },
            },
            decoder = new { type = "ByteLevel", add_prefix_space = false, trim_offsets = false, use_regex = false },
            model = new { type = "BPE", dropout = (object?)null, unk_token = (string?)null, byte_fallback = false, vocab, merges = new[] { "h e", "l l", "he ll" } },
        });
    }

    // GPT-2's bytes_to_unicode: printable bytes stand for themselves, the others are shifted past 255.
    public static string ByteSymbol(int b)
    {
        static bool Printable(int c) => c is (>= '!' and <= '~') or (>= 0xA1 and <= 0xAC) or (>= 0xAE and <= 0xFF);
        if (Printable(b))
        {
            return ((char)b).ToString();
        }

        int n = 0;
        for (int c = 0; c < b; c++)
        {
            if (!Printable(c))
            {
                n++;
            }
        }

        return ((char)(256 + n)).ToString();
    }

    // Deterministic values in [-scale, scale] (a fixed LCG), so every run builds identical models.
    public static float[] Deterministic(int count, int seed, float scale)
    {
        float[] values = new float[count];
        uint state = (uint)(seed * 2654435761u) | 1;
        for (int i = 0; i < count; i++)
        {
            state = (state * 1664525u) + 1013904223u;
            values[i] = ((state >> 8) / (float)(1 << 24) * 2 - 1) * scale;
        }

        return values;
    }

    public static string NewFolder(string name) => Directory.CreateTempSubdirectory("costaware-" + name + "-").FullName;

    // Without a byte-order mark: ONNX Runtime GenAI's own parser rejects one, and its folders must load there too.
    internal static void WriteJson(string dir, string file, object value) =>
        File.WriteAllText(Path.Combine(dir, file), JsonSerializer.Serialize(value), new UTF8Encoding(encoderShouldEmitUTF8Identifier: false));
}

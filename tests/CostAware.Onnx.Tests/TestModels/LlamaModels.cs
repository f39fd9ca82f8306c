using System.Text.Json;

namespace CostAware.Onnx.Tests.TestModels;

// The shape of a Llama-style decoder: hidden size, layers, attention and key/value heads, MLP width, vocabulary, context.
internal sealed record class LlamaShape(int Hidden, int Layers, int Heads, int KvHeads, int Intermediate, int Vocabulary, int Context)
{
    // About 0.43 billion parameters (0.36 B in the layers, 2 × 32.8 M in the embedding and the head): the size class of
    // Qwen2.5-0.5B or Llama 3.2-1B's smaller siblings — big enough that the model's compute, not the loop, dominates.
    public static LlamaShape Realistic { get; } = new(1024, 24, 16, 4, 4096, 32000, 2048);

    // Small enough for a unit test, with the same graph.
    public static LlamaShape Small { get; } = new(64, 2, 4, 2, 128, 1024, 256);

    public int HeadSize => Hidden / Heads;

    public long Parameters =>
        (2L * Vocabulary * Hidden) + (Layers * ((2L * Hidden * Hidden) + (2L * Hidden * KvHeads * HeadSize) + (3L * Hidden * Intermediate) + (2L * Hidden))) + Hidden;
}

// Llama-style decoders with random weights, written the way ONNX Runtime GenAI's model builder writes them: a
// genai_config.json folder, model.onnx with its weights in model.onnx.data, GroupQueryAttention with rotary embedding
// inside (cos/sin caches), SimplifiedLayerNormalization (RMS norm), SiLU MLP, and the linear layers as MatMul (fp32) or
// MatMulNBits (int4, block 32, as the model builder's int4 export). The head is fp32 in both. The tokenizer is byte-level
// BPE over the 256 bytes, three specials and filler tokens up to the vocabulary; a bias of −10⁴ on the specials keeps
// random weights from ending the answer early, so every run generates exactly the tokens asked for.
internal static class LlamaModels
{
    public const int ImStart = 256;
    public const int ImEnd = 257;
    public const int EndOfText = 258;

    public static string Write(LlamaShape shape, bool int4, string? folder = null)
    {
        string dir = folder ?? TinyModels.NewFolder("llama-" + (int4 ? "int4" : "fp32"));
        Directory.CreateDirectory(dir);
        using (FileStream data = File.Create(Path.Combine(dir, "model.onnx.data")))
        {
            File.WriteAllBytes(Path.Combine(dir, "model.onnx"), Model(shape, int4, data));
        }

        TinyModels.WriteJson(dir, "genai_config.json", new
        {
            model = new
            {
                type = "llama",
                bos_token_id = EndOfText,
                eos_token_id = new[] { ImEnd, EndOfText },
                pad_token_id = EndOfText,
                vocab_size = shape.Vocabulary,
                context_length = shape.Context,
                decoder = new
                {
                    filename = "model.onnx",
                    head_size = shape.HeadSize,
                    hidden_size = shape.Hidden,
                    num_attention_heads = shape.Heads,
                    num_key_value_heads = shape.KvHeads,
                    num_hidden_layers = shape.Layers,
                    session_options = new { log_id = "onnxruntime-genai", provider_options = Array.Empty<object>() },
                    inputs = new { input_ids = "input_ids", attention_mask = "attention_mask", past_key_names = "past_key_values.%d.key", past_value_names = "past_key_values.%d.value" },
                    outputs = new { logits = "logits", present_key_names = "present.%d.key", present_value_names = "present.%d.value" },
                },
            },
            search = new { do_sample = false, max_length = shape.Context, past_present_share_buffer = true, num_beams = 1, top_k = 1, top_p = 1.0, temperature = 1.0 },
        });
        File.WriteAllText(Path.Combine(dir, "tokenizer.json"), TokenizerJson(shape.Vocabulary));

        // ONNX Runtime GenAI reads tokenizer_config.json beside tokenizer.json and fails without one.
        TinyModels.WriteJson(dir, "tokenizer_config.json", new
        {
            bos_token = "<|endoftext|>",
            eos_token = "<|im_end|>",
            pad_token = "<|endoftext|>",
            model_max_length = shape.Context,
            tokenizer_class = "PreTrainedTokenizerFast",
        });
        return dir;
    }

    private static byte[] Model(LlamaShape s, bool int4, Stream data)
    {
        OnnxGraph g = new(data, "model.onnx.data");
        int seed = 100;
        float Scale(int fanIn) => 1f / MathF.Sqrt(fanIn);
        _ = g.Init("embed", TinyModels.Deterministic(s.Vocabulary * s.Hidden, seed++, 1f), s.Vocabulary, s.Hidden)
            .Init("lm_head", TinyModels.Deterministic(s.Hidden * s.Vocabulary, seed++, Scale(s.Hidden)), s.Hidden, s.Vocabulary)
            .Init("ln_f", Ones(s.Hidden), s.Hidden)
            .Init("special_bias", SpecialBias(s.Vocabulary), s.Vocabulary)
            .Init("ax1", [1L], 1).Init("one", [1L], 1).Init("idx1", [1L], 1);
        (float[] cos, float[] sin) = Rotary(s.Context, s.HeadSize);
        _ = g.Init("cos_cache", cos, s.Context, s.HeadSize / 2).Init("sin_cache", sin, s.Context, s.HeadSize / 2)
            .Input("input_ids", OnnxGraph.Int64, "batch_size", "sequence_length")
            .Input("attention_mask", OnnxGraph.Int64, "batch_size", "total_sequence_length")
            .Node("Gather", ["embed", "input_ids"], ["h_0"])
            .Node("ReduceSum", ["attention_mask", "ax1"], ["lens"], "", OnnxGraph.AttrInt("keepdims", 0))
            .Node("Sub", ["lens", "one"], ["lens1"])
            .Node("Cast", ["lens1"], ["seqlens_k"], "", OnnxGraph.AttrInt("to", OnnxGraph.Int32))
            .Node("Shape", ["attention_mask"], ["mshape"])
            .Node("Gather", ["mshape", "idx1"], ["total1"], "", OnnxGraph.AttrInt("axis", 0))
            .Node("Cast", ["total1"], ["total_sequence_length"], "", OnnxGraph.AttrInt("to", OnnxGraph.Int32));

        int kv = s.KvHeads * s.HeadSize;
        string h = "h_0";
        for (int l = 0; l < s.Layers; l++)
        {
            string p = $"l{l}_";
            _ = g.Input($"past_key_values.{l}.key", OnnxGraph.Float, "batch_size", s.KvHeads, "past_sequence_length", s.HeadSize)
                .Input($"past_key_values.{l}.value", OnnxGraph.Float, "batch_size", s.KvHeads, "past_sequence_length", s.HeadSize)
                .Init(p + "ln1", Ones(s.Hidden), s.Hidden)
                .Init(p + "ln2", Ones(s.Hidden), s.Hidden)
                .Node("SimplifiedLayerNormalization", [h, p + "ln1"], [p + "n1"], "", OnnxGraph.AttrInt("axis", -1), OnnxGraph.AttrFloat("epsilon", 1e-5f));
            Linear(g, int4, p + "q", p + "n1", s.Hidden, s.Hidden, seed++);
            Linear(g, int4, p + "k", p + "n1", s.Hidden, kv, seed++);
            Linear(g, int4, p + "v", p + "n1", s.Hidden, kv, seed++);
            _ = g.Node(
                "GroupQueryAttention",
                [p + "q", p + "k", p + "v", $"past_key_values.{l}.key", $"past_key_values.{l}.value", "seqlens_k", "total_sequence_length", "cos_cache", "sin_cache"],
                [p + "attn", $"present.{l}.key", $"present.{l}.value"],
                "com.microsoft",
                OnnxGraph.AttrInt("num_heads", s.Heads),
                OnnxGraph.AttrInt("kv_num_heads", s.KvHeads),
                OnnxGraph.AttrInt("do_rotary", 1),
                OnnxGraph.AttrInt("rotary_interleaved", 0));
            Linear(g, int4, p + "o", p + "attn", s.Hidden, s.Hidden, seed++);
            _ = g.Node("Add", [h, p + "o"], [p + "r1"])
                .Node("SimplifiedLayerNormalization", [p + "r1", p + "ln2"], [p + "n2"], "", OnnxGraph.AttrInt("axis", -1), OnnxGraph.AttrFloat("epsilon", 1e-5f));
            Linear(g, int4, p + "gate", p + "n2", s.Hidden, s.Intermediate, seed++);
            Linear(g, int4, p + "up", p + "n2", s.Hidden, s.Intermediate, seed++);
            _ = g.Node("Sigmoid", [p + "gate"], [p + "sig"])
                .Node("Mul", [p + "gate", p + "sig"], [p + "silu"])
                .Node("Mul", [p + "silu", p + "up"], [p + "act"]);
            Linear(g, int4, p + "down", p + "act", s.Intermediate, s.Hidden, seed++);
            _ = g.Node("Add", [p + "r1", p + "down"], [p + "out"]);
            h = p + "out";
        }

        _ = g.Node("SimplifiedLayerNormalization", [h, "ln_f"], ["final"], "", OnnxGraph.AttrInt("axis", -1), OnnxGraph.AttrFloat("epsilon", 1e-5f))
            .Node("MatMul", ["final", "lm_head"], ["raw_logits"])
            .Node("Add", ["raw_logits", "special_bias"], ["logits"])
            .Output("logits", OnnxGraph.Float, "batch_size", "sequence_length", s.Vocabulary);
        for (int l = 0; l < s.Layers; l++)
        {
            _ = g.Output($"present.{l}.key", OnnxGraph.Float, "batch_size", s.KvHeads, "total_sequence_length", s.HeadSize)
                .Output($"present.{l}.value", OnnxGraph.Float, "batch_size", s.KvHeads, "total_sequence_length", s.HeadSize);
        }

        return g.Model(microsoftDomain: true);
    }

    // y = x · W: fp32 MatMul, or MatMulNBits with 4-bit weights in blocks of 32 along K (B is [N, K/32, 16] bytes, one
    // float scale per block, the default zero point 8), accuracy level 4 (int8 compute on the CPU), as the model builder writes.
    private static void Linear(OnnxGraph g, bool int4, string output, string input, int k, int n, int seed)
    {
        if (!int4)
        {
            _ = g.Init(output + "_w", TinyModels.Deterministic(k * n, seed, 1f / MathF.Sqrt(k)), k, n)
                .Node("MatMul", [input, output + "_w"], [output]);
            return;
        }

        const int Block = 32;
        int blocks = (k + Block - 1) / Block;
        byte[] packed = new byte[checked(n * blocks * (Block / 2))];
        uint state = (uint)(seed * 2654435761u) | 1;
        for (int i = 0; i < packed.Length; i++)
        {
            state = (state * 1664525u) + 1013904223u;
            packed[i] = (byte)(state >> 24);
        }

        float scale = 1f / MathF.Sqrt(k) / 4.6f; // uniform 4-bit codes around 8: standard deviation ≈ 4.6 steps
        float[] scales = new float[n * blocks];
        Array.Fill(scales, scale);
        _ = g.Init(output + "_q", packed, n, blocks, Block / 2)
            .Init(output + "_scales", scales, n * blocks)
            .Node(
                "MatMulNBits",
                [input, output + "_q", output + "_scales"],
                [output],
                "com.microsoft",
                OnnxGraph.AttrInt("K", k),
                OnnxGraph.AttrInt("N", n),
                OnnxGraph.AttrInt("bits", 4),
                OnnxGraph.AttrInt("block_size", Block),
                OnnxGraph.AttrInt("accuracy_level", 4));
    }

    private static float[] Ones(int count)
    {
        float[] values = new float[count];
        Array.Fill(values, 1f);
        return values;
    }

    private static float[] SpecialBias(int vocabulary)
    {
        float[] bias = new float[vocabulary];
        bias[ImStart] = bias[ImEnd] = bias[EndOfText] = -1e4f;
        return bias;
    }

    private static (float[] Cos, float[] Sin) Rotary(int positions, int headSize)
    {
        int half = headSize / 2;
        float[] cos = new float[positions * half];
        float[] sin = new float[positions * half];
        for (int p = 0; p < positions; p++)
        {
            for (int i = 0; i < half; i++)
            {
                double angle = p / Math.Pow(10000d, 2d * i / headSize);
                cos[(p * half) + i] = (float)Math.Cos(angle);
                sin[(p * half) + i] = (float)Math.Sin(angle);
            }
        }

        return (cos, sin);
    }

    // Byte-level BPE: ids 0–255 the bytes, 256–258 the specials, then filler tokens (three printable characters each,
    // distinct, no merges reach them) up to the vocabulary, so any id the model picks decodes.
    private static string TokenizerJson(int vocabulary)
    {
        Dictionary<string, int> vocab = [];
        for (int b = 0; b < 256; b++)
        {
            vocab[TinyModels.ByteSymbol(b)] = b;
        }

        const string Letters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
        for (int id = 259, n = 0; id < vocabulary; id++, n++)
        {
            vocab[string.Concat(Letters[n % 52], Letters[n / 52 % 52], Letters[n / 52 / 52 % 52])] = id;
        }

        return JsonSerializer.Serialize(new
        {
            version = "1.0",
            added_tokens = new[]
            {
                new { id = ImStart, content = "<|im_start|>", special = true },
                new { id = ImEnd, content = "<|im_end|>", special = true },
                new { id = EndOfText, content = "<|endoftext|>", special = true },
            },
            normalizer = (object?)null,
            pre_tokenizer = new { type = "ByteLevel", add_prefix_space = false, trim_offsets = false, use_regex = true },
            decoder = new { type = "ByteLevel", add_prefix_space = false, trim_offsets = false, use_regex = true },
            model = new { type = "BPE", dropout = (object?)null, unk_token = (string?)null, byte_fallback = false, vocab, merges = Array.Empty<string>() },
        });
    }
}

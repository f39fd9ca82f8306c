using System.Text.Json;

namespace CostAware.Onnx.Internal;

// What a decoder model folder says about itself: ONNX Runtime GenAI's genai_config.json when there is one, otherwise
// Hugging Face's config.json with generation_config.json (Optimum exports). Only names, token ids, sizes and search
// defaults are read from here; the session's own metadata decides which inputs exist and their types.
internal sealed class DecoderConfig
{
    public string ModelFile { get; private set; } = "";
    public string? ModelType { get; private set; }
    public HashSet<int> EosIds { get; } = [];
    public int? BosId { get; private set; }
    public int? PadId { get; private set; }
    public int? ContextLength { get; private set; }
    public int? KvHeads { get; private set; }
    public int? HeadSize { get; private set; }
    public string InputIds { get; private set; } = "input_ids";
    public string AttentionMask { get; private set; } = "attention_mask";
    public string PositionIds { get; private set; } = "position_ids";
    public string PastKey { get; private set; } = "past_key_values.%d.key";
    public string PastValue { get; private set; } = "past_key_values.%d.value";
    public string Logits { get; private set; } = "logits";
    public string PresentKey { get; private set; } = "present.%d.key";
    public string PresentValue { get; private set; } = "present.%d.value";
    public bool? ShareBuffer { get; private set; }
    public bool DoSample { get; private set; }
    public float? Temperature { get; private set; }
    public int? TopK { get; private set; }
    public float? TopP { get; private set; }
    public int? Seed { get; private set; }
    public string Source { get; private set; } = "";

    public static DecoderConfig Load(string directory)
    {
        DecoderConfig config = new();
        string genai = Path.Combine(directory, "genai_config.json");
        string hf = Path.Combine(directory, "config.json");
        if (File.Exists(genai))
        {
            config.Source = genai;
            config.ReadGenAi(genai);
        }
        else if (File.Exists(hf))
        {
            config.Source = hf;
            config.ReadHuggingFace(hf, Path.Combine(directory, "generation_config.json"));
        }
        else
        {
            throw new OnnxBackendException(
                OnnxBackendFailure.UnsupportedModel,
                $"The model folder '{directory}' has neither genai_config.json (ONNX Runtime GenAI's model builder) nor config.json (Hugging Face / Optimum).");
        }

        config.ModelFile = FindModelFile(directory, config.ModelFile);
        return config;
    }

    private void ReadGenAi(string path)
    {
        using JsonDocument doc = Parse(path);
        JsonElement model = doc.RootElement.GetProperty("model");
        ModelType = String(model, "type");
        ReadIds(model);
        ContextLength = Int(model, "context_length");
        if (model.TryGetProperty("decoder", out JsonElement decoder))
        {
            ModelFile = String(decoder, "filename") ?? "";
            KvHeads = Int(decoder, "num_key_value_heads");
            HeadSize = Int(decoder, "head_size");
            if (decoder.TryGetProperty("inputs", out JsonElement inputs))
            {
                InputIds = String(inputs, "input_ids") ?? InputIds;
                AttentionMask = String(inputs, "attention_mask") ?? AttentionMask;
                PositionIds = String(inputs, "position_ids") ?? PositionIds;
                PastKey = String(inputs, "past_key_names") ?? PastKey;
                PastValue = String(inputs, "past_value_names") ?? PastValue;
            }

            if (decoder.TryGetProperty("outputs", out JsonElement outputs))
            {
                Logits = String(outputs, "logits") ?? Logits;
                PresentKey = String(outputs, "present_key_names") ?? PresentKey;
                PresentValue = String(outputs, "present_value_names") ?? PresentValue;
            }
        }

        if (doc.RootElement.TryGetProperty("search", out JsonElement search))
        {
            ReadSearch(search);
            ShareBuffer = Bool(search, "past_present_share_buffer");
            ContextLength = Int(search, "max_length") is int max && (ContextLength is null || max < ContextLength) ? max : ContextLength;
        }
    }

    private void ReadHuggingFace(string path, string generationPath)
    {
        using (JsonDocument doc = Parse(path))
        {
            JsonElement root = doc.RootElement;
            ModelType = String(root, "model_type");
            ReadIds(root);
            ContextLength = Int(root, "max_position_embeddings") ?? Int(root, "n_positions");
            int? heads = Int(root, "num_attention_heads") ?? Int(root, "n_head");
            KvHeads = Int(root, "num_key_value_heads") ?? heads;
            int? hidden = Int(root, "hidden_size") ?? Int(root, "n_embd");
            HeadSize = Int(root, "head_dim") ?? (hidden is int h && heads is int n && n > 0 ? h / n : null);
        }

        if (File.Exists(generationPath))
        {
            using JsonDocument generation = Parse(generationPath);
            ReadIds(generation.RootElement);
            ReadSearch(generation.RootElement);
        }
    }

    private void ReadIds(JsonElement element)
    {
        BosId = Int(element, "bos_token_id") ?? BosId;
        PadId = Int(element, "pad_token_id") ?? PadId;
        if (element.TryGetProperty("eos_token_id", out JsonElement eos))
        {
            if (eos.ValueKind == JsonValueKind.Number)
            {
                _ = EosIds.Add(eos.GetInt32());
            }
            else if (eos.ValueKind == JsonValueKind.Array)
            {
                foreach (JsonElement id in eos.EnumerateArray())
                {
                    _ = EosIds.Add(id.GetInt32());
                }
            }
        }
    }

    private void ReadSearch(JsonElement search)
    {
        DoSample = Bool(search, "do_sample") ?? DoSample;
        Temperature = Float(search, "temperature") ?? Temperature;
        TopK = Int(search, "top_k") ?? TopK;
        TopP = Float(search, "top_p") ?? TopP;
        Seed = Int(search, "random_seed") is int seed && seed >= 0 ? seed : Seed;
    }

    private static string FindModelFile(string directory, string named)
    {
        if (named.Length > 0)
        {
            string path = Path.Combine(directory, named);
            return File.Exists(path)
                ? path
                : throw new OnnxBackendException(OnnxBackendFailure.UnsupportedModel, $"The model folder '{directory}' names '{named}' as its decoder, but the file is not there.");
        }

        return ModelFiles.Find(
            directory,
            ["model.onnx", "decoder_model_merged.onnx", "decoder_with_past_model.onnx", Path.Combine("onnx", "model.onnx")],
            "no genai_config.json naming the decoder");
    }

    private static JsonDocument Parse(string path)
    {
        try
        {
            return JsonDocument.Parse(File.ReadAllText(path));
        }
        catch (JsonException ex)
        {
            throw new OnnxBackendException(OnnxBackendFailure.UnsupportedModel, $"'{path}' is not valid JSON: {ex.Message}", ex);
        }
    }

    private static string? String(JsonElement e, string name) => e.TryGetProperty(name, out JsonElement v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;

    private static int? Int(JsonElement e, string name) => e.TryGetProperty(name, out JsonElement v) && v.ValueKind == JsonValueKind.Number && v.TryGetInt32(out int i) ? i : null;

    private static float? Float(JsonElement e, string name) => e.TryGetProperty(name, out JsonElement v) && v.ValueKind == JsonValueKind.Number ? v.GetSingle() : null;

    private static bool? Bool(JsonElement e, string name) => e.TryGetProperty(name, out JsonElement v) && v.ValueKind is JsonValueKind.True or JsonValueKind.False ? v.GetBoolean() : null;
}

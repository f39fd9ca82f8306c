using System.Globalization;
using Microsoft.Extensions.Logging;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace CostAware.Onnx.Internal;

// A loaded decoder: its session and what the session's metadata says about its inputs and outputs. Which optional
// inputs exist, element types and the cache's head count and size come from the session; names and token ids come
// from the folder's configuration. One instance per model, shared by every request (Run is thread-safe).
internal sealed class DecoderModel : IDisposable
{
    private DecoderModel(InferenceSession session, DecoderConfig config, string device)
    {
        Session = session;
        Config = config;
        Device = device;
    }

    public InferenceSession Session { get; }
    public DecoderConfig Config { get; }
    public string Device { get; }
    public string InputIds { get; private set; } = "";
    public string? AttentionMask { get; private set; }
    public string? PositionIds { get; private set; }
    public string? UseCacheBranch { get; private set; }
    public string Logits { get; private set; } = "";
    public string[] PastKeys { get; private set; } = [];
    public string[] PastValues { get; private set; } = [];
    public string[] PresentKeys { get; private set; } = [];
    public string[] PresentValues { get; private set; } = [];
    public TensorElementType IdsType { get; private set; }
    public TensorElementType MaskType { get; private set; }
    public TensorElementType PositionType { get; private set; }
    public TensorElementType KvType { get; private set; }
    public TensorElementType LogitsType { get; private set; }
    public int KvHeads { get; private set; }
    public int HeadSize { get; private set; }
    public int Layers => PastKeys.Length;

    // Without position ids the model takes a row's positions and attended span from the mask's count (the model
    // builder's GroupQueryAttention: seqlens_k), which holds only when the row's tokens start at column 0.
    public bool RightPadded => PositionIds is null;

    public static DecoderModel Load(DecoderConfig config, OnnxModelOptions options, ILogger logger)
    {
        InferenceSession session = OrtRuntime.CreateSession(config.ModelFile, options, logger, out string device);
        DecoderModel model = new(session, config, device);
        try
        {
            model.Bind();
            return model;
        }
        catch
        {
            session.Dispose();
            throw;
        }
    }

    private void Bind()
    {
        IReadOnlyDictionary<string, NodeMetadata> inputs = Session.InputMetadata;
        IReadOnlyDictionary<string, NodeMetadata> outputs = Session.OutputMetadata;
        string file = Config.ModelFile;
        InputIds = inputs.ContainsKey(Config.InputIds)
            ? Config.InputIds
            : throw Unsupported(file, $"it has no input '{Config.InputIds}' (inputs: {string.Join(", ", inputs.Keys)}); models taking only inputs_embeds are not supported");
        Logits = outputs.ContainsKey(Config.Logits) ? Config.Logits : throw Unsupported(file, $"it has no output '{Config.Logits}'");
        AttentionMask = inputs.ContainsKey(Config.AttentionMask) ? Config.AttentionMask : null;
        PositionIds = inputs.ContainsKey(Config.PositionIds) ? Config.PositionIds : null;
        UseCacheBranch = inputs.ContainsKey("use_cache_branch") ? "use_cache_branch" : null;
        IdsType = IntegerType(inputs[InputIds], file, InputIds);
        MaskType = AttentionMask is null ? TensorElementType.Int64 : IntegerType(inputs[AttentionMask], file, AttentionMask);
        PositionType = PositionIds is null ? TensorElementType.Int64 : IntegerType(inputs[PositionIds], file, PositionIds);
        LogitsType = FloatType(outputs[Logits], file, Logits);

        List<string> pastKeys = [];
        for (int layer = 0; inputs.ContainsKey(Name(Config.PastKey, layer)); layer++)
        {
            pastKeys.Add(Name(Config.PastKey, layer));
        }

        if (pastKeys.Count == 0)
        {
            throw Unsupported(file, $"it has no KV-cache inputs named like '{Config.PastKey}' (inputs: {string.Join(", ", inputs.Keys)}); only models exported with a cache (past/present) are supported");
        }

        PastKeys = [.. pastKeys];
        PastValues = [.. Enumerable.Range(0, pastKeys.Count).Select(i => Require(inputs, Name(Config.PastValue, i), file))];
        PresentKeys = [.. Enumerable.Range(0, pastKeys.Count).Select(i => Require(outputs, Name(Config.PresentKey, i), file))];
        PresentValues = [.. Enumerable.Range(0, pastKeys.Count).Select(i => Require(outputs, Name(Config.PresentValue, i), file))];
        NodeMetadata past = inputs[PastKeys[0]];
        KvType = FloatType(past, file, PastKeys[0]);
        int[] dims = past.Dimensions;
        if (dims.Length != 4)
        {
            throw Unsupported(file, $"its cache input '{PastKeys[0]}' has {dims.Length} dimensions, not [batch, kv_heads, sequence, head_size]");
        }

        KvHeads = dims[1] > 0 ? dims[1] : Config.KvHeads ?? throw Unsupported(file, "the number of KV heads is neither fixed in the model nor given in its configuration");
        HeadSize = dims[3] > 0 ? dims[3] : Config.HeadSize ?? throw Unsupported(file, "the KV head size is neither fixed in the model nor given in its configuration");
    }

    private static string Name(string template, int layer) => template.Replace("%d", layer.ToString(CultureInfo.InvariantCulture), StringComparison.Ordinal);

    private static string Require(IReadOnlyDictionary<string, NodeMetadata> map, string name, string file) =>
        map.ContainsKey(name) ? name : throw Unsupported(file, $"it has no '{name}'");

    private static TensorElementType IntegerType(NodeMetadata metadata, string file, string name) =>
        metadata.ElementDataType is TensorElementType.Int64 or TensorElementType.Int32
            ? metadata.ElementDataType
            : throw Unsupported(file, $"'{name}' is {metadata.ElementDataType}, not int64 or int32");

    private static TensorElementType FloatType(NodeMetadata metadata, string file, string name) =>
        metadata.ElementDataType is TensorElementType.Float or TensorElementType.Float16
            ? metadata.ElementDataType
            : throw Unsupported(file, $"'{name}' is {metadata.ElementDataType}; float32 and float16 are supported");

    private static OnnxBackendException Unsupported(string file, string why) =>
        new(OnnxBackendFailure.UnsupportedModel, $"'{file}' cannot be run as a decoder: {why}.");

    public void Dispose() => Session.Dispose();
}

using System.Numerics.Tensors;
using System.Runtime.InteropServices;
using System.Text.Json;
using System.Threading.Channels;
using CostAware.Onnx.Internal;
using CostAware.Shared;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace CostAware;

/// <summary>
/// Embeds text with a BERT-family sentence-embedding model (MiniLM, bge, e5, …) exported to ONNX, in process with ONNX
/// Runtime: free, private, and on the GPU when the app ships the CUDA runtime. It plugs into the semantic cache like
/// any <see cref="IEmbeddingGenerator{TInput, TEmbedding}"/>.
/// </summary>
/// <remarks>
/// <para>
/// Loads a model folder: the <c>.onnx</c> file (inputs <c>input_ids</c>, <c>attention_mask</c> and optionally
/// <c>token_type_ids</c>), its tokenizer (<c>vocab.txt</c> or <c>tokenizer.json</c>), and optionally
/// <c>config.json</c> and sentence-transformers' <c>1_Pooling/config.json</c>.
/// </para>
/// <para>
/// Texts of concurrent calls are gathered into shared model runs of up to
/// <see cref="OnnxEmbeddingGeneratorOptions.MaxBatchSize"/> texts, so many small callers cost few runs; gathered texts
/// run in groups of similar length, so a long text does not pad every short one. Thread-safe.
/// </para>
/// </remarks>
public sealed class OnnxEmbeddingGenerator : IEmbeddingGenerator<string, Embedding<float>>
{
    // The most padded tokens in one model run (rows x longest): bounds the activations a run holds.
    private const long MaxPaddedTokens = 16_384;

    private readonly InferenceSession _session;
    private readonly ModelTokenizer _tokenizer;
    private readonly string _output;
    private readonly OnnxPooling _pooling;
    private readonly bool _normalize;
    private readonly bool _tokenTypes;
    private readonly TensorElementType _idsType;
    private readonly TensorElementType _outputType;
    private readonly int _maxTokens;
    private readonly int _batchSize;
    private readonly int _padId;
    private readonly ILogger _logger;
    private readonly Channel<Pending> _queue = Channel.CreateUnbounded<Pending>();
    private readonly Task _worker;
    private int _dimensions;

    /// <summary>Initializes a new instance of the <see cref="OnnxEmbeddingGenerator"/> class and loads the model.</summary>
    /// <param name="options">The model folder, device, pooling and batching.</param>
    /// <param name="loggerFactory">Where the device choice is logged.</param>
    /// <exception cref="ArgumentNullException"><paramref name="options"/> is <see langword="null"/>.</exception>
    /// <exception cref="Microsoft.Extensions.Options.OptionsValidationException">An option is out of range, or the model folder does not exist; the message names the option.</exception>
    /// <exception cref="FileNotFoundException">The model folder has no tokenizer.</exception>
    /// <exception cref="OnnxBackendException">The runtime, device or model cannot be used; <see cref="OnnxBackendException.Failure"/> says which.</exception>
    public OnnxEmbeddingGenerator(OnnxEmbeddingGeneratorOptions options, ILoggerFactory? loggerFactory = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        OnnxOptionsValidation.ThrowIfInvalid(options);
        _logger = (loggerFactory ?? NullLoggerFactory.Instance).CreateLogger<OnnxEmbeddingGenerator>();
        string directory = Path.GetFullPath(options.ModelPath);
        _tokenizer = ModelTokenizerLoader.Load(directory, options.LowerCase);
        ModelId = options.ModelId ?? Path.GetFileName(Path.TrimEndingDirectorySeparator(directory));
        string modelFile = ModelFiles.Find(directory, ["model.onnx", Path.Combine("onnx", "model.onnx")], "none is named model.onnx");
        _session = OrtRuntime.CreateSession(modelFile, options, _logger, out string device);
        try
        {
            Device = device;
            IReadOnlyDictionary<string, NodeMetadata> inputs = _session.InputMetadata;
            IReadOnlyDictionary<string, NodeMetadata> outputs = _session.OutputMetadata;
            if (!inputs.TryGetValue("input_ids", out NodeMetadata? ids) || !inputs.ContainsKey("attention_mask"))
            {
                throw new OnnxBackendException(OnnxBackendFailure.UnsupportedModel, $"'{modelFile}' cannot be run as an embedding model: it needs inputs input_ids and attention_mask (it has {string.Join(", ", inputs.Keys)}).");
            }

            _idsType = ids.ElementDataType;
            _tokenTypes = inputs.ContainsKey("token_type_ids");
            (_pooling, _output) = ChoosePooling(options.Pooling, directory, outputs, modelFile);
            _outputType = outputs[_output].ElementDataType;
            if (_outputType is not (TensorElementType.Float or TensorElementType.Float16))
            {
                throw new OnnxBackendException(OnnxBackendFailure.UnsupportedModel, $"'{modelFile}': output '{_output}' is {_outputType}; float32 and float16 are supported.");
            }

            int[] dims = outputs[_output].Dimensions;
            _dimensions = dims.Length > 0 && dims[^1] > 0 ? dims[^1] : 0;
            _normalize = options.Normalize;
            _batchSize = options.MaxBatchSize;
            _maxTokens = options.MaxSequenceLength ?? ModelMaxLength(directory) ?? 512;
            _padId = _tokenizer.SpecialTokens.TryGetValue("[PAD]", out int pad) ? pad : _tokenizer.SpecialTokens.TryGetValue("<pad>", out pad) ? pad : 0;
            Log.EmbeddingModelLoaded(_logger, ModelId, _dimensions, _pooling, Device);
            _worker = Task.Run(WorkAsync);
        }
        catch
        {
            _session.Dispose();
            throw;
        }
    }

    /// <summary>Gets the model id reported in metadata.</summary>
    public string ModelId { get; }

    /// <summary>Gets where the model runs: <c>cpu</c> or <c>cuda:&lt;id&gt;</c>.</summary>
    public string Device { get; }

    /// <summary>Gets the number of dimensions of every embedding (0 until known, when the model leaves it symbolic and nothing was embedded yet).</summary>
    public int Dimensions => Volatile.Read(ref _dimensions);

    /// <inheritdoc />
    public async Task<GeneratedEmbeddings<Embedding<float>>> GenerateAsync(
        IEnumerable<string> values, EmbeddingGenerationOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(values);
        List<Pending> pending = [];
        foreach (string value in values)
        {
            ArgumentNullException.ThrowIfNull(value, nameof(values));
            Pending item = new(Truncate(_tokenizer.EncodeForModel(value)));
            pending.Add(item);
            ObjectDisposedException.ThrowIf(!_queue.Writer.TryWrite(item), this);
        }

        GeneratedEmbeddings<Embedding<float>> result = [];
        long tokens = 0;
        foreach (Pending item in pending)
        {
            float[] vector = await item.Result.Task.WaitAsync(cancellationToken);
            result.Add(new Embedding<float>(vector) { ModelId = ModelId, CreatedAt = null });
            tokens += item.Ids.Count;
        }

        result.Usage = new UsageDetails { InputTokenCount = tokens, TotalTokenCount = tokens };
        return result;
    }

    /// <inheritdoc />
    public object? GetService(Type serviceType, object? serviceKey = null)
    {
        ArgumentNullException.ThrowIfNull(serviceType);
        return serviceKey is not null ? null
            : serviceType == typeof(EmbeddingGeneratorMetadata) ? new EmbeddingGeneratorMetadata("onnxruntime", new Uri("onnxruntime:" + Device), ModelId, Dimensions == 0 ? null : Dimensions)
            : serviceType == typeof(InferenceSession) ? _session
            : serviceType.IsInstanceOfType(this) ? this
            : null;
    }

    /// <summary>Fails texts still waiting with <see cref="ObjectDisposedException"/>; the model is released when the running batch has finished.</summary>
    public void Dispose()
    {
        if (!_queue.Writer.TryComplete())
        {
            return;
        }

        while (_queue.Reader.TryRead(out Pending? item))
        {
            _ = item.Result.TrySetException(new ObjectDisposedException(nameof(OnnxEmbeddingGenerator)));
        }

        // Released after the worker has finished its current run, never under it.
        _ = _worker.ContinueWith(_ => _session.Dispose(), CancellationToken.None, TaskContinuationOptions.None, TaskScheduler.Default);
    }

    private IReadOnlyList<int> Truncate(IReadOnlyList<int> ids) =>
        ids.Count <= _maxTokens ? ids : [.. ids.Take(_maxTokens - 1), ids[^1]];

    private async Task WorkAsync()
    {
        while (await _queue.Reader.WaitToReadAsync().ConfigureAwait(false))
        {
            List<Pending> batch = [];
            while (batch.Count < _batchSize && _queue.Reader.TryRead(out Pending? item))
            {
                batch.Add(item);
            }

            foreach (List<Pending> run in ByLength(batch))
            {
                try
                {
                    float[][] vectors = Run(run);
                    for (int i = 0; i < run.Count; i++)
                    {
                        _ = run[i].Result.TrySetResult(vectors[i]);
                    }
                }
                catch (Exception ex) when (ex is OnnxRuntimeException or ObjectDisposedException or InvalidOperationException)
                {
                    foreach (Pending item in run)
                    {
                        _ = item.Result.TrySetException(ex);
                    }
                }
            }
        }
    }

    // Splits gathered texts into runs of similar length, shortest first: a run pads every text to its longest, and on
    // the CPU attention and the feed-forward layers cost per padded token, so one long text in a run of short ones made
    // batching slower than embedding one by one. A text joins the current run while the padding it causes stays within
    // a quarter of the run's real tokens (plus a few tokens of slack), and a run holds at most MaxPaddedTokens.
    internal static IEnumerable<List<Pending>> ByLength(List<Pending> batch)
    {
        if (batch.Count == 1)
        {
            yield return batch;
            yield break;
        }

        batch.Sort(static (a, b) => a.Ids.Count.CompareTo(b.Ids.Count));
        List<Pending> run = [];
        long real = 0;
        foreach (Pending item in batch)
        {
            int length = item.Ids.Count;
            long padded = (long)length * (run.Count + 1);
            if (run.Count > 0 && (padded > ((real + length) * 5 / 4) + (4L * (run.Count + 1)) || padded > MaxPaddedTokens))
            {
                yield return run;
                run = [];
                real = 0;
            }

            run.Add(item);
            real += length;
        }

        yield return run;
    }

    private float[][] Run(List<Pending> batch)
    {
        int rows = batch.Count;
        int length = batch.Max(p => p.Ids.Count);
        long[] ids = new long[rows * length];
        long[] mask = new long[rows * length];
        for (int r = 0; r < rows; r++)
        {
            IReadOnlyList<int> tokens = batch[r].Ids;
            ids.AsSpan(r * length, length).Fill(_padId);
            for (int t = 0; t < tokens.Count; t++)
            {
                ids[(r * length) + t] = tokens[t];
                mask[(r * length) + t] = 1;
            }
        }

        long[] shape = [rows, length];
        List<string> names = ["input_ids", "attention_mask"];
        List<OrtValue> inputs = [OrtTensors.Integers(ids, shape, _idsType), OrtTensors.Integers(mask, shape, _idsType)];
        if (_tokenTypes)
        {
            names.Add("token_type_ids");
            inputs.Add(OrtTensors.Integers(new long[rows * length], shape, _idsType));
        }

        try
        {
            using RunOptions run = new();
            using IDisposableReadOnlyCollection<OrtValue> outputs = _session.Run(run, names, inputs, [_output]);
            OrtValue output = outputs[0];
            long[] outShape = output.GetTensorTypeAndShape().Shape;
            int hidden = checked((int)outShape[^1]);
            float[] values = new float[output.GetTensorTypeAndShape().ElementCount];
            if (_outputType == TensorElementType.Float16)
            {
                TensorPrimitives.ConvertToSingle(MemoryMarshal.Cast<Float16, Half>(output.GetTensorDataAsSpan<Float16>()), values);
            }
            else
            {
                output.GetTensorDataAsSpan<float>().CopyTo(values);
            }

            Volatile.Write(ref _dimensions, hidden);
            float[][] vectors = new float[rows][];
            for (int r = 0; r < rows; r++)
            {
                float[] vector = new float[hidden];
                if (outShape.Length == 2)
                {
                    values.AsSpan(r * hidden, hidden).CopyTo(vector);
                }
                else if (_pooling == OnnxPooling.Cls)
                {
                    values.AsSpan(r * length * hidden, hidden).CopyTo(vector);
                }
                else
                {
                    int count = batch[r].Ids.Count;
                    for (int t = 0; t < count; t++)
                    {
                        TensorPrimitives.Add(vector, values.AsSpan(((r * length) + t) * hidden, hidden), vector);
                    }

                    TensorPrimitives.Divide(vector, count, vector);
                }

                if (_normalize)
                {
                    float norm = TensorPrimitives.Norm(vector);
                    if (norm > 0)
                    {
                        TensorPrimitives.Divide(vector, norm, vector);
                    }
                }

                vectors[r] = vector;
            }

            return vectors;
        }
        finally
        {
            foreach (OrtValue input in inputs)
            {
                input.Dispose();
            }
        }
    }

    private static (OnnxPooling Pooling, string Output) ChoosePooling(OnnxPooling requested, string directory, IReadOnlyDictionary<string, NodeMetadata> outputs, string modelFile)
    {
        string? pooled = outputs.ContainsKey("sentence_embedding") ? "sentence_embedding" : outputs.ContainsKey("pooler_output") ? "pooler_output" : null;
        string? tokens = outputs.ContainsKey("last_hidden_state") ? "last_hidden_state"
            : outputs.ContainsKey("token_embeddings") ? "token_embeddings"
            : outputs.FirstOrDefault(o => o.Value.Dimensions.Length == 3).Key;
        if (requested == OnnxPooling.Auto)
        {
            requested = outputs.ContainsKey("sentence_embedding") ? OnnxPooling.ModelOutput : SentenceTransformersPooling(directory) ?? OnnxPooling.Mean;
        }

        return requested switch
        {
            OnnxPooling.ModelOutput => (requested, pooled ?? throw new OnnxBackendException(OnnxBackendFailure.UnsupportedModel, $"'{modelFile}' has no pooled output (sentence_embedding or pooler_output); use Mean or Cls pooling.")),
            _ => (requested, tokens ?? throw new OnnxBackendException(OnnxBackendFailure.UnsupportedModel, $"'{modelFile}' has no token-vector output [batch, sequence, hidden] (last_hidden_state) to pool.")),
        };
    }

    private static OnnxPooling? SentenceTransformersPooling(string directory)
    {
        string path = Path.Combine(directory, "1_Pooling", "config.json");
        if (!File.Exists(path))
        {
            return null;
        }

        using JsonDocument doc = JsonDocument.Parse(File.ReadAllText(path));
        JsonElement root = doc.RootElement;
        return root.TryGetProperty("pooling_mode_cls_token", out JsonElement cls) && cls.ValueKind == JsonValueKind.True ? OnnxPooling.Cls
            : root.TryGetProperty("pooling_mode_mean_tokens", out JsonElement mean) && mean.ValueKind == JsonValueKind.True ? OnnxPooling.Mean
            : throw new OnnxBackendException(OnnxBackendFailure.UnsupportedModel, $"'{path}' asks for a pooling mode other than mean or CLS; set OnnxEmbeddingGeneratorOptions.Pooling.");
    }

    private static int? ModelMaxLength(string directory)
    {
        string path = Path.Combine(directory, "config.json");
        if (!File.Exists(path))
        {
            return null;
        }

        using JsonDocument doc = JsonDocument.Parse(File.ReadAllText(path));
        return doc.RootElement.TryGetProperty("max_position_embeddings", out JsonElement max) && max.TryGetInt32(out int n) ? n : null;
    }

    internal sealed class Pending(IReadOnlyList<int> ids)
    {
        public IReadOnlyList<int> Ids { get; } = ids;

        public TaskCompletionSource<float[]> Result { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}

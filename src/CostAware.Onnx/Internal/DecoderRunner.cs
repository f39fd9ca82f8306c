using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace CostAware.Onnx.Internal;

// Runs one batch of rows through a decoder, step by step, holding the batch's KV cache in one of two modes:
// grow (each run's present.* outputs are fed back as the next run's past.* inputs; ORT allocates them, nothing is
// copied) or shared (one [batch, kv_heads, capacity, head_size] buffer per layer bound as both past and present
// through IO binding, as GroupQueryAttention models expect). Rows of different lengths share one cache in one of two
// layouts. A model with position ids takes rows left-padded to a common length: the mask is 0 on a row's padding and
// position ids count from its first real token. A model without them (the model builder's GroupQueryAttention, whose
// positions and attended span come from the mask's count, seqlens_k) needs every row to start at column 0 and end
// where its own tokens end (right padding); such a batch is prefilled row by row and regrouped (see Start). In grow
// mode a batch can be regrouped between steps (finished rows dropped, newly prefilled rows joined): continuous
// batching. Not thread-safe: one runner per batch.
internal sealed class DecoderRunner : IDisposable
{
    private readonly DecoderModel _model;
    private readonly int _batch;
    private readonly int[] _padding;
    private readonly int[]? _right;
    private readonly bool _shared;
    private readonly int _capacity;
    private readonly RunOptions _runOptions = new();
    private readonly OrtValue[] _pastKeys;
    private readonly OrtValue[] _pastValues;
    private readonly OrtIoBinding? _binding;
    private readonly string[] _outputNames;
    private float[] _logits = [];
    private long[] _mask = [];
    private int _length;

    public DecoderRunner(DecoderModel model, IReadOnlyList<int> promptLengths, bool shared, int capacity)
    {
        _model = model;
        _batch = promptLengths.Count;
        _shared = shared;
        _capacity = capacity;
        int longest = promptLengths.Max();
        if (model.RightPadded)
        {
            if (_batch > 1 && !shared)
            {
                throw new InvalidOperationException("A batch of a model without position ids starts with DecoderRunner.Start (row by row, regrouped).");
            }

            _right = new int[_batch];
            _padding = new int[_batch];
        }
        else
        {
            _padding = [.. promptLengths.Select(length => longest - length)];
        }

        _pastKeys = new OrtValue[model.Layers];
        _pastValues = new OrtValue[model.Layers];
        long[] shape = [_batch, model.KvHeads, shared ? capacity : 0, model.HeadSize];
        for (int layer = 0; layer < model.Layers; layer++)
        {
            _pastKeys[layer] = OrtTensors.Empty(model.KvType, shape);
            _pastValues[layer] = OrtTensors.Empty(model.KvType, shape);
        }

        if (shared)
        {
            _binding = model.Session.CreateIoBinding();
        }

        _outputNames = [model.Logits, .. model.PresentKeys, .. model.PresentValues];
    }

    // A grow-mode runner over caches already filled (Regroup).
    private DecoderRunner(DecoderModel model, int[] padding, int[]? right, int length, OrtValue[] keys, OrtValue[] values, float[] logits, int vocabulary)
    {
        _model = model;
        _batch = padding.Length;
        _padding = padding;
        _right = right;
        _length = length;
        _pastKeys = keys;
        _pastValues = values;
        _logits = logits;
        VocabularySize = vocabulary;
        _outputNames = [model.Logits, .. model.PresentKeys, .. model.PresentValues];
    }

    // A prefilled batch: at once, left-padded, or — for a model without position ids, in grow mode — each prompt alone,
    // regrouped into one batch (prefill is compute-bound: batching it saves little on a CPU).
    public static DecoderRunner Start(DecoderModel model, IReadOnlyList<IReadOnlyList<int>> prompts, bool shared, int capacity, int padId, int chunkSize)
    {
        if (!model.RightPadded || shared || prompts.Count == 1)
        {
            DecoderRunner runner = new(model, [.. prompts.Select(p => p.Count)], shared, capacity);
            try
            {
                runner.Prefill(prompts, padId, chunkSize);
                return runner;
            }
            catch
            {
                runner.Dispose();
                throw;
            }
        }

        List<DecoderRunner> alone = [];
        try
        {
            foreach (IReadOnlyList<int> prompt in prompts)
            {
                alone.Add(Start(model, [prompt], shared: false, capacity, padId, chunkSize));
            }

            return Regroup(null, [], alone);
        }
        finally
        {
            foreach (DecoderRunner runner in alone)
            {
                runner.Dispose();
            }
        }
    }

    // Real tokens of a row in the cache (its padding excluded).
    public int RowLength(int row) => _right?[row] ?? Math.Max(0, _length - _padding[row]);

    // Grow mode, between steps: a runner over the kept rows of `running` followed by every row of each joining runner
    // (prefilled, not yet stepped), laid out on the longest real history (left-padded, or from column 0 for a model
    // without position ids), columns of padding only dropped, each row's cache and last logits copied. The given
    // runners stay the caller's to dispose.
    public static DecoderRunner Regroup(DecoderRunner? running, IReadOnlyList<int> keep, IReadOnlyList<DecoderRunner> joining)
    {
        List<(DecoderRunner From, int Row)> rows = running is null ? [] : [.. keep.Select(r => (running, r))];
        foreach (DecoderRunner join in joining)
        {
            rows.AddRange(Enumerable.Range(0, join._batch).Select(r => (join, r)));
        }

        if (rows.Count == 0 || rows.Any(static r => r.From._shared))
        {
            throw new InvalidOperationException("Only rows of grow-mode batches can be regrouped, and at least one.");
        }

        DecoderModel model = rows[0].From._model;
        int Real((DecoderRunner From, int Row) r) => r.From.RowLength(r.Row);
        int length = rows.Max(Real);
        int[]? right = model.RightPadded ? [.. rows.Select(Real)] : null;
        int[] padding = right is null ? [.. rows.Select(r => length - Real(r))] : new int[rows.Count];
        int vocabulary = rows[0].From.VocabularySize;
        float[] logits = new float[rows.Count * vocabulary];
        for (int i = 0; i < rows.Count; i++)
        {
            (DecoderRunner from, int row) = rows[i];
            from._logits.AsSpan(row * vocabulary, vocabulary).CopyTo(logits.AsSpan(i * vocabulary));
        }

        OrtValue[] keys = new OrtValue[model.Layers];
        OrtValue[] values = new OrtValue[model.Layers];
        try
        {
            for (int layer = 0; layer < model.Layers; layer++)
            {
                keys[layer] = Gather(model, rows, length, right is null, r => r._pastKeys[layer]);
                values[layer] = Gather(model, rows, length, right is null, r => r._pastValues[layer]);
            }
        }
        catch
        {
            foreach (OrtValue value in keys.Concat(values))
            {
                value?.Dispose();
            }

            throw;
        }

        return new DecoderRunner(model, padding, right, length, keys, values, logits, vocabulary);
    }

    // One layer's cache for the regrouped rows: [rows, kv_heads, length, head_size], each row's real positions copied
    // to its right end (left padding) or its start, zeros (masked) elsewhere.
    private static OrtValue Gather(DecoderModel model, List<(DecoderRunner From, int Row)> rows, int length, bool leftPadded, Func<DecoderRunner, OrtValue> layer)
    {
        int element = model.KvType == TensorElementType.Float16 ? 2 : 4;
        int head = model.HeadSize * element;
        OrtValue merged = OrtTensors.Empty(model.KvType, [rows.Count, model.KvHeads, length, model.HeadSize]);
        Span<byte> into = merged.GetTensorMutableRawData();
        for (int i = 0; i < rows.Count; i++)
        {
            (DecoderRunner from, int row) = rows[i];
            ReadOnlySpan<byte> source = layer(from).GetTensorMutableRawData();
            int real = from.RowLength(row);
            int sourceOffset = from._right is null ? from._length - real : 0;
            int targetOffset = leftPadded ? length - real : 0;
            for (int h = 0; h < model.KvHeads; h++)
            {
                int sourceStart = ((((row * model.KvHeads) + h) * from._length) + sourceOffset) * head;
                int targetStart = ((((i * model.KvHeads) + h) * length) + targetOffset) * head;
                source.Slice(sourceStart, real * head).CopyTo(into.Slice(targetStart, real * head));
            }
        }

        return merged;
    }

    // Tokens in the cache (padding included).
    public int Length => _length;

    public int VocabularySize { get; private set; }


    // Last-position logits of each row, [batch * vocab], valid until the next run.
    public ReadOnlySpan<float> Logits => _logits.AsSpan(0, _batch * VocabularySize);

    // Feeds the left-padded prompts in chunks of at most chunkSize columns.
    public void Prefill(IReadOnlyList<IReadOnlyList<int>> prompts, int padId, int chunkSize)
    {
        int longest = prompts.Max(p => p.Count);
        for (int from = 0; from < longest; from += chunkSize)
        {
            int to = Math.Min(longest, from + chunkSize);
            long[] ids = new long[_batch * (to - from)];
            for (int b = 0; b < _batch; b++)
            {
                for (int t = from; t < to; t++)
                {
                    int index = t - _padding[b];
                    ids[(b * (to - from)) + t - from] = index >= 0 ? prompts[b][index] : padId;
                }
            }

            Run(ids, to - from);
        }
    }

    // Feeds one token per row (finished rows feed padding, which nobody reads).
    public void Step(ReadOnlySpan<int> tokens)
    {
        long[] ids = new long[_batch];
        for (int b = 0; b < _batch; b++)
        {
            ids[b] = tokens[b];
        }

        Run(ids, 1);
    }

    private void Run(long[] ids, int columns)
    {
        int total = _length + columns;
        if (_shared && total > _capacity)
        {
            throw new InvalidOperationException($"The shared KV cache holds {_capacity} tokens; {total} were asked for.");
        }

        List<string> names = [_model.InputIds];
        List<OrtValue> values = [OrtTensors.Integers(ids, [_batch, columns], _model.IdsType)];
        try
        {
            if (_model.AttentionMask is { } maskName)
            {
                // One buffer for the whole generation, grown by doubling: a step costs no allocation of the mask's size.
                int size = _batch * total;
                if (_mask.Length < size)
                {
                    _mask = new long[Math.Max(size, _mask.Length * 2)];
                }

                Span<long> mask = _mask.AsSpan(0, size);
                mask.Clear();
                for (int b = 0; b < _batch; b++)
                {
                    if (_right is not null)
                    {
                        // From column 0 to the row's own end, the tokens of this run included.
                        mask.Slice(b * total, _right[b] + columns).Fill(1);
                    }
                    else
                    {
                        mask.Slice((b * total) + Math.Min(_padding[b], total), total - Math.Min(_padding[b], total)).Fill(1);
                    }
                }

                names.Add(maskName);
                values.Add(OrtTensors.Integers(_mask.AsMemory(0, size), [_batch, total], _model.MaskType));
            }

            if (_model.PositionIds is { } positionName)
            {
                long[] positions = new long[_batch * columns];
                for (int b = 0; b < _batch; b++)
                {
                    for (int c = 0; c < columns; c++)
                    {
                        positions[(b * columns) + c] = Math.Max(0, _length + c - _padding[b]);
                    }
                }

                names.Add(positionName);
                values.Add(OrtTensors.Integers(positions, [_batch, columns], _model.PositionType));
            }

            if (_model.UseCacheBranch is { } branch)
            {
                names.Add(branch);
                values.Add(OrtValue.CreateTensorValueFromMemory(new[] { _length > 0 }, [1]));
            }

            if (_shared)
            {
                RunShared(names, values);
            }
            else
            {
                RunGrowing(names, values);
            }

            _length = total;
            if (_right is not null)
            {
                for (int b = 0; b < _batch; b++)
                {
                    _right[b] += columns;
                }
            }
        }
        finally
        {
            foreach (OrtValue value in values)
            {
                value.Dispose();
            }
        }
    }

    private void RunGrowing(List<string> names, List<OrtValue> values)
    {
        for (int layer = 0; layer < _model.Layers; layer++)
        {
            names.Add(_model.PastKeys[layer]);
            values.Add(_pastKeys[layer]);
            names.Add(_model.PastValues[layer]);
            values.Add(_pastValues[layer]);
        }

        IDisposableReadOnlyCollection<OrtValue> outputs = _model.Session.Run(_runOptions, names, values, _outputNames);
        int layers = _model.Layers;
        // The old pasts are in `values` and are disposed by the caller; the presents become the new pasts.
        values.RemoveRange(values.Count - (2 * layers), 2 * layers);
        for (int layer = 0; layer < layers; layer++)
        {
            _pastKeys[layer].Dispose();
            _pastValues[layer].Dispose();
            _pastKeys[layer] = outputs[1 + layer];
            _pastValues[layer] = outputs[1 + layers + layer];
        }

        using OrtValue logits = outputs[0];
        VocabularySize = OrtTensors.LastPositionLogits(logits, _batch, _model.LogitsType, ref _logits);
    }

    private void RunShared(List<string> names, List<OrtValue> values)
    {
        OrtIoBinding binding = _binding!;
        binding.ClearBoundInputs();
        binding.ClearBoundOutputs();
        for (int i = 0; i < names.Count; i++)
        {
            binding.BindInput(names[i], values[i]);
        }

        binding.BindOutputToDevice(_model.Logits, OrtMemoryInfo.DefaultInstance);
        for (int layer = 0; layer < _model.Layers; layer++)
        {
            binding.BindInput(_model.PastKeys[layer], _pastKeys[layer]);
            binding.BindInput(_model.PastValues[layer], _pastValues[layer]);
            binding.BindOutput(_model.PresentKeys[layer], _pastKeys[layer]);
            binding.BindOutput(_model.PresentValues[layer], _pastValues[layer]);
        }

        _model.Session.RunWithBinding(_runOptions, binding);
        using IDisposableReadOnlyCollection<OrtValue> outputs = binding.GetOutputValues();
        VocabularySize = OrtTensors.LastPositionLogits(outputs[0], _batch, _model.LogitsType, ref _logits);
    }

    public void Dispose()
    {
        foreach (OrtValue value in _pastKeys.Concat(_pastValues))
        {
            value?.Dispose();
        }

        _binding?.Dispose();
        _runOptions.Dispose();
    }
}

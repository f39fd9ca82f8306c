using Microsoft.ML.OnnxRuntime;

namespace CostAware.Onnx.Internal;

// Runs one batch of rows through a decoder, step by step, holding the batch's KV cache in one of two modes:
// grow (each run's present.* outputs are fed back as the next run's past.* inputs; ORT allocates them, nothing is
// copied) or shared (one [batch, kv_heads, capacity, head_size] buffer per layer bound as both past and present
// through IO binding, as GroupQueryAttention models expect). Rows are left-padded to a common length: the mask is 0
// on a row's padding and position ids count from its first real token. Not thread-safe: one runner per batch.
internal sealed class DecoderRunner : IDisposable
{
    private readonly DecoderModel _model;
    private readonly int _batch;
    private readonly int[] _padding;
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
        _padding = [.. promptLengths.Select(length => longest - length)];
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

    // Tokens in the cache (padding included).
    public int Length => _length;

    public int VocabularySize { get; private set; }

    // Padding columns in front of a row's prompt.
    public int Padding(int row) => _padding[row];

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
                    mask.Slice((b * total) + Math.Min(_padding[b], total), total - Math.Min(_padding[b], total)).Fill(1);
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

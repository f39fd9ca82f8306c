using System.Numerics.Tensors;

namespace CostAware.Onnx.Internal;

// Picks the next token from one row's logits, following ONNX Runtime GenAI's rules: greedy when not sampling (or
// temperature 0, or top-k 1); otherwise softmax at the temperature over the top-k tokens (all when k is 0), cut to the
// smallest set whose probability reaches top-p, renormalised and drawn with the row's seeded generator. Frequency and
// presence penalties (OpenAI's additive form) are applied to the logits first. Not thread-safe: one per row.
internal sealed class TokenSampler
{
    // Tokens this far below the best (in units of temperature) carry less than e^-20 of its probability; the nucleus
    // is searched among the others first, and over every token only when they cannot reach top-p.
    private const float CandidateWindow = 20f;

    private readonly SamplingSettings _settings;
    private readonly Random _random;
    private readonly Dictionary<int, int> _counts = [];
    private float[] _scratch = [];
    private int[] _indices = [];

    public TokenSampler(SamplingSettings settings)
    {
        _settings = settings;
        _random = settings.Seed is int seed ? new Random(seed) : new Random();
    }

    public int Next(Span<float> logits)
    {
        if (_counts.Count > 0 && (_settings.FrequencyPenalty != 0 || _settings.PresencePenalty != 0))
        {
            foreach ((int id, int count) in _counts)
            {
                if ((uint)id < (uint)logits.Length)
                {
                    logits[id] -= (_settings.FrequencyPenalty * count) + _settings.PresencePenalty;
                }
            }
        }

        int token = _settings.Greedy ? TensorPrimitives.IndexOfMax(logits) : Sample(logits);
        _counts[token] = _counts.TryGetValue(token, out int n) ? n + 1 : 1;
        return token;
    }

    private int Sample(ReadOnlySpan<float> logits)
    {
        int vocab = logits.Length;
        float temperature = _settings.Temperature;
        float max = TensorPrimitives.Max(logits);
        bool topK = _settings.TopK > 0 && _settings.TopK < vocab;
        int k = topK ? _settings.TopK : vocab;
        float threshold = max - (CandidateWindow * temperature);
        int count = Collect(logits, threshold);
        if (topK && count < k)
        {
            count = Collect(logits, float.NegativeInfinity);
        }

        count = Math.Min(count, k);
        bool complete = topK || count == vocab;
        double total = complete ? Weight(0, count, max, temperature) : Partition(logits, max, temperature);

        // Nucleus: the smallest best-first prefix whose probability reaches top-p.
        if (_settings.TopP < 1)
        {
            int cut = Nucleus(count, max, temperature, total);
            if (cut < 0 && !complete)
            {
                count = Collect(logits, float.NegativeInfinity);
                cut = Nucleus(count, max, temperature, total);
            }

            if (cut > 0)
            {
                return Draw(cut, max, temperature, Weight(0, cut, max, temperature), logits, threshold, walkTail: false);
            }
        }

        return Draw(count, max, temperature, total, logits, threshold, walkTail: !complete);
    }

    private int Nucleus(int count, float max, float temperature, double total)
    {
        double kept = 0;
        for (int i = 0; i < count; i++)
        {
            kept += Math.Exp((_scratch[i] - max) / temperature) / total;
            if (kept >= _settings.TopP)
            {
                return i + 1;
            }
        }

        return -1;
    }

    // Draws from the first `count` candidates, weights normalised by mass; when the candidates are only those above
    // the window, the draw may land in the tail, which is walked in id order (exactly the full distribution).
    private int Draw(int count, float max, float temperature, double mass, ReadOnlySpan<float> logits, float threshold, bool walkTail)
    {
        double draw = _random.NextDouble() * mass;
        for (int i = 0; i < count; i++)
        {
            draw -= Math.Exp((_scratch[i] - max) / temperature);
            if (draw <= 0)
            {
                return _indices[i];
            }
        }

        if (walkTail)
        {
            for (int i = 0; i < logits.Length; i++)
            {
                if (logits[i] < threshold)
                {
                    draw -= Math.Exp((logits[i] - max) / temperature);
                    if (draw <= 0)
                    {
                        return i;
                    }
                }
            }
        }

        return _indices[count - 1];
    }

    private double Weight(int from, int to, float max, float temperature)
    {
        double sum = 0;
        for (int i = from; i < to; i++)
        {
            sum += Math.Exp((_scratch[i] - max) / temperature);
        }

        return sum;
    }

    // The normaliser over every token, vectorised.
    private static double Partition(ReadOnlySpan<float> logits, float max, float temperature)
    {
        float[] shifted = System.Buffers.ArrayPool<float>.Shared.Rent(logits.Length);
        try
        {
            Span<float> s = shifted.AsSpan(0, logits.Length);
            TensorPrimitives.Subtract(logits, max, s);
            TensorPrimitives.Divide(s, temperature, s);
            TensorPrimitives.Exp(s, s);
            return TensorPrimitives.Sum<float>(s);
        }
        finally
        {
            System.Buffers.ArrayPool<float>.Shared.Return(shifted);
        }
    }

    // Fills _scratch/_indices with the tokens at or above threshold, best first; returns how many.
    private int Collect(ReadOnlySpan<float> logits, float threshold)
    {
        if (_scratch.Length < logits.Length)
        {
            _scratch = new float[logits.Length];
            _indices = new int[logits.Length];
        }

        int count = 0;
        for (int i = 0; i < logits.Length; i++)
        {
            if (logits[i] >= threshold)
            {
                _scratch[count] = -logits[i];
                _indices[count] = i;
                count++;
            }
        }

        // Sorting negated logits ascending puts the best first.
        Array.Sort(_scratch, _indices, 0, count);
        for (int i = 0; i < count; i++)
        {
            _scratch[i] = -_scratch[i];
        }

        return count;
    }
}

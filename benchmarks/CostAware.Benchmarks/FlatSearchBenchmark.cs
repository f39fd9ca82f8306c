using BenchmarkDotNet.Attributes;

namespace CostAware.Benchmarks;

// Top-10 search over one partition of seeded random unit vectors: FlatVectorIndex (TensorPrimitives dot products,
// heap, parallel parts above 4 MB of vectors) against the naive scalar loop, and against the memory-bandwidth floor measured
// in the same run: a read-only SIMD sum over the same float bytes, on one thread and on every core. Int8VectorIndex
// reads a quarter of those bytes, then re-ranks its candidates with the floats.
[MemoryDiagnoser]
[SimpleJob(launchCount: 1, warmupCount: 3, iterationCount: 10)]
public class FlatSearchBenchmark
{
    private FlatVectorIndex _index = null!;
    private Int8VectorIndex _int8 = null!;
    private float[] _rows = null!;
    private float[] _query = null!;
    private readonly VectorMatch[] _results = new VectorMatch[10];

    [Params(10_000, 100_000, 1_000_000)]
    public int Rows { get; set; }

    [Params(384, 1536)]
    public int Dimensions { get; set; }

    // The int8 index keeps float copies for re-ranking: at 1M x 1536 that and the two float copies here would not fit
    // this 24 GiB machine, so int8 is measured up to 100M elements (it returns -1 above).
    private bool HasInt8 => (long)Rows * Dimensions <= 400_000_000;

    [GlobalSetup]
    public void Setup()
    {
        Random random = new(2026);
        _index = new FlatVectorIndex(Dimensions);
        _int8 = new Int8VectorIndex(Dimensions);
        _rows = new float[Rows * Dimensions];
        float[] v = new float[Dimensions];
        for (int r = 0; r < Rows; r++)
        {
            double norm = 0;
            for (int d = 0; d < Dimensions; d++)
            {
                v[d] = (float)((random.NextDouble() * 2) - 1);
                norm += v[d] * v[d];
            }

            for (int d = 0; d < Dimensions; d++)
            {
                v[d] = (float)(v[d] / Math.Sqrt(norm));
            }

            v.CopyTo(_rows, r * Dimensions);
            _index.Add("p", r, v);
            if (HasInt8)
            {
                _int8.Add("p", r, v);
            }
        }

        _query = new float[Dimensions];
        for (int d = 0; d < Dimensions; d++)
        {
            _query[d] = (float)((random.NextDouble() * 2) - 1);
        }
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _index.Dispose();
        _int8.Dispose();
    }

    // A scalar dot product per row and an insertion-sorted top 10.
    [Benchmark(Baseline = true)]
    public float NaiveScalarLoop()
    {
        Span<float> best = stackalloc float[10];
        best.Fill(float.NegativeInfinity);
        for (int r = 0; r < Rows; r++)
        {
            float dot = 0;
            int offset = r * Dimensions;
            for (int d = 0; d < Dimensions; d++)
            {
                dot += _rows[offset + d] * _query[d];
            }

            if (dot > best[9])
            {
                int i = 9;
                while (i > 0 && best[i - 1] < dot)
                {
                    best[i] = best[i - 1];
                    i--;
                }

                best[i] = dot;
            }
        }

        return best[0];
    }

    [Benchmark]
    public int FlatVectorIndexSearch() => _index.Search("p", _query, _results);

    // int8 codes (a quarter of the bytes) scanned for 40 candidates, re-ranked with float vectors.
    [Benchmark]
    public int Int8VectorIndexSearch() => HasInt8 ? _int8.Search("p", _query, _results) : -1;

    // The floor: reading every byte of the rows once, with nothing else to do.
    [Benchmark]
    public float ReadOnlyBandwidth1Thread() => System.Numerics.Tensors.TensorPrimitives.Sum(_rows);

    [Benchmark]
    public float ReadOnlyBandwidthAllCores()
    {
        int parts = Environment.ProcessorCount * 8;
        int perPart = (_rows.Length + parts - 1) / parts;
        float[] sums = new float[parts];
        _ = Parallel.For(0, parts, part =>
        {
            int from = part * perPart;
            int to = Math.Min(_rows.Length, from + perPart);
            sums[part] = from < to ? System.Numerics.Tensors.TensorPrimitives.Sum(_rows.AsSpan(from, to - from)) : 0f;
        });
        return sums.Sum();
    }
}

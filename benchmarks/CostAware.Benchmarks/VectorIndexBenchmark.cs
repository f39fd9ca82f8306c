using BenchmarkDotNet.Attributes;

namespace CostAware.Benchmarks;

// HNSW and int8 against the exact flat index on clustered data (200 centres, the shape of real embeddings; random
// Gaussian vectors are HNSW's worst case and are measured too): one query's top 10, and 64 queries at once spread
// over the cores (throughput). Recall of each approximate index against flat over the same queries is printed at
// set-up, so that speed is read at a known recall.
[MemoryDiagnoser]
[SimpleJob(launchCount: 1, warmupCount: 3, iterationCount: 10)]
public class VectorIndexBenchmark
{
    private FlatVectorIndex _flat = null!;
    private Int8VectorIndex _int8 = null!;
    private HnswVectorIndex _hnsw = null!;
    private float[][] _queries = null!;
    private readonly VectorMatch[] _results = new VectorMatch[10];
    private int _next;

    [Params(100_000)]
    public int Rows { get; set; }

    [Params(384)]
    public int Dimensions { get; set; }

    [Params("clustered", "gaussian")]
    public string Data { get; set; } = "clustered";

    [GlobalSetup]
    public void Setup()
    {
        Random random = new(2026);
        float[][] centres = [.. Enumerable.Range(0, 200).Select(_ => Gaussian(random, 1f))];
        float[] Point() => Data == "clustered"
            ? [.. centres[random.Next(centres.Length)].Zip(Gaussian(random, 0.35f), (c, n) => c + n)]
            : Gaussian(random, 1f);

        _flat = new FlatVectorIndex(Dimensions);
        _int8 = new Int8VectorIndex(Dimensions);
        _hnsw = new HnswVectorIndex(Dimensions);
        for (int r = 0; r < Rows; r++)
        {
            float[] v = Point();
            _flat.Add("p", r, v);
            _int8.Add("p", r, v);
            _hnsw.Add("p", r, v);
        }

        _queries = [.. Enumerable.Range(0, 256).Select(_ => Point())];
        Console.WriteLine($"// recall@10 vs flat ({Data}): int8 {Recall(_int8):P1}, hnsw {Recall(_hnsw):P1}");
    }

    private double Recall(IVectorIndex index)
    {
        VectorMatch[] exact = new VectorMatch[10];
        VectorMatch[] approximate = new VectorMatch[10];
        double sum = 0;
        foreach (float[] q in _queries)
        {
            _ = _flat.Search("p", q, exact);
            _ = index.Search("p", q, approximate);
            sum += approximate.Count(a => a.Similarity >= exact[9].Similarity - 1e-6f) / 10.0;
        }

        return sum / _queries.Length;
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _flat.Dispose();
        _int8.Dispose();
        _hnsw.Dispose();
    }

    private float[] NextQuery() => _queries[_next++ & 255];

    [Benchmark(Baseline = true)]
    public int Flat() => _flat.Search("p", NextQuery(), _results);

    [Benchmark]
    public int Quantized() => _int8.Search("p", NextQuery(), _results);

    [Benchmark]
    public int Hnsw() => _hnsw.Search("p", NextQuery(), _results);

    [Benchmark(OperationsPerInvoke = 64)]
    public int FlatBatch64() => Batch(_flat);

    [Benchmark(OperationsPerInvoke = 64)]
    public int HnswBatch64() => Batch(_hnsw);

    // 64 queries at once, one per task, as a server answering concurrent requests would.
    private int Batch(IVectorIndex index)
    {
        int found = 0;
        _ = Parallel.For(0, 64, i =>
        {
            VectorMatch[] results = new VectorMatch[10];
            _ = Interlocked.Add(ref found, index.Search("p", _queries[i], results));
        });
        return found;
    }

    private float[] Gaussian(Random random, float scale)
    {
        float[] v = new float[Dimensions];
        for (int i = 0; i < v.Length; i++)
        {
            v[i] = scale * (float)(Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble()));
        }

        return v;
    }
}

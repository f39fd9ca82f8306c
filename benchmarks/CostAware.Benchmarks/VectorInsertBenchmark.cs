using BenchmarkDotNet.Attributes;

namespace CostAware.Benchmarks;

// What a cache miss costs the index: inserting one vector into a partition of Rows entries (every miss is an insert).
// Each iteration starts from a fresh partition of Rows entries and inserts 1,000 more; the time is per insert.
[MemoryDiagnoser]
[SimpleJob(launchCount: 1, warmupCount: 1, iterationCount: 5, invocationCount: 1)]
public class VectorInsertBenchmark
{
    private const int Inserts = 1000;
    private float[][] _base = null!;
    private float[][] _extra = null!;
    private IVectorIndex _index = null!;

    [Params(10_000)]
    public int Rows { get; set; }

    [Params(384)]
    public int Dimensions { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        Random random = new(2026);
        _base = [.. Enumerable.Range(0, Rows).Select(_ => Vector(random))];
        _extra = [.. Enumerable.Range(0, Inserts).Select(_ => Vector(random))];
    }

    [IterationSetup(Target = nameof(Flat))]
    public void SetupFlat() => _index = Fill(new FlatVectorIndex(Dimensions));

    [IterationSetup(Target = nameof(Quantized))]
    public void SetupInt8() => _index = Fill(new Int8VectorIndex(Dimensions));

    [IterationSetup(Target = nameof(Hnsw))]
    public void SetupHnsw() => _index = Fill(new HnswVectorIndex(Dimensions));

    [IterationCleanup]
    public void Cleanup() => _index.Dispose();

    [Benchmark(Baseline = true, OperationsPerInvoke = Inserts)]
    public void Flat() => Insert();

    [Benchmark(OperationsPerInvoke = Inserts)]
    public void Quantized() => Insert();

    [Benchmark(OperationsPerInvoke = Inserts)]
    public void Hnsw() => Insert();

    private void Insert()
    {
        for (int i = 0; i < _extra.Length; i++)
        {
            _index.Add("p", Rows + i, _extra[i]);
        }
    }

    private IVectorIndex Fill(IVectorIndex index)
    {
        for (int i = 0; i < _base.Length; i++)
        {
            index.Add("p", i, _base[i]);
        }

        return index;
    }

    private float[] Vector(Random random)
    {
        float[] v = new float[Dimensions];
        for (int i = 0; i < v.Length; i++)
        {
            v[i] = (float)((random.NextDouble() * 2) - 1);
        }

        return v;
    }
}

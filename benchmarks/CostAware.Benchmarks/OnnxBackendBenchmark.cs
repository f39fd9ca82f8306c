using BenchmarkDotNet.Attributes;
using CostAware.Onnx.Internal;
using CostAware.Tests.TestUtilities;
using CostAware.Onnx.Tests.TestModels;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Logging.Abstractions;

namespace CostAware.Benchmarks;

// The local chat backend on the tiny decoders (264-token vocabulary, one layer): what the backend itself costs per
// token (ORT call overhead, sampling, detokenising, streaming) on the CPU, not a real model's compute. Every request
// generates exactly 64 tokens. Baseline: the naive loop, every step recomputed from the whole sequence without a KV
// cache, measured in the same run.
[InProcess]
[MemoryDiagnoser]
public class OnnxDecoderBenchmark
{
    private const int Tokens = 64;
    private static readonly ChatOptions Options = new() { MaxOutputTokens = Tokens };
    private OnnxChatClient _concat = null!;
    private OnnxChatClient _shared = null!;
    private OnnxChatClient _batched = null!;
    private OnnxChatClient _unbatched = null!;
    private DecoderModel _naive = null!;
    private int[] _prompt = null!;

    [GlobalSetup]
    public void Setup()
    {
        string concat = TinyModels.ConcatDecoder();
        string gqa = TinyModels.GqaDecoder(shareBuffer: true);
        static string Raw(IReadOnlyList<ChatMessage> m) => m[^1].Text;
        OnnxChatClient Client(string folder, int batch) => new(new OnnxChatClientOptions
        {
            ModelPath = folder, Device = OnnxDevice.Cpu, PromptFormatter = Raw, MaxBatchSize = batch, IntraOpThreads = 1,
        });
        _concat = Client(concat, 8);
        _shared = Client(gqa, 1);
        _batched = Client(concat, 8);
        _unbatched = Client(concat, 1);
        _naive = DecoderModel.Load(DecoderConfig.Load(concat), new OnnxChatClientOptions { ModelPath = concat, Device = OnnxDevice.Cpu, IntraOpThreads = 1 }, NullLogger.Instance);
        _prompt = [.. "Count on: g"u8.ToArray().Select(b => (int)b)];
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _concat.Dispose();
        _shared.Dispose();
        _batched.Dispose();
        _unbatched.Dispose();
        _naive.Dispose();
    }

    [Benchmark(Baseline = true, Description = "64 tokens, no KV cache (naive loop)")]
    public int NoCache()
    {
        List<int> sequence = [.. _prompt];
        for (int i = 0; i < Tokens; i++)
        {
            using DecoderRunner runner = new(_naive, [sequence.Count], shared: false, 0);
            runner.Prefill([sequence], 0, 512);
            sequence.Add(System.Numerics.Tensors.TensorPrimitives.IndexOfMax(runner.Logits));
        }

        return sequence.Count;
    }

    [Benchmark(Description = "64 tokens, grow KV cache (concat model)")]
    public async Task<int> GrowCache() => (await _concat.GetResponseAsync("Count on: g", Options)).Text.Length;

    [Benchmark(Description = "64 tokens, shared KV buffer (GQA model)")]
    public async Task<int> SharedBuffer() => (await _shared.GetResponseAsync("Count on: g", Options)).Text.Length;

    [Benchmark(Description = "time to first token (grow)")]
    public async Task<int> TimeToFirstToken()
    {
        await foreach (ChatResponseUpdate update in _concat.GetStreamingResponseAsync("Count on: g", Options))
        {
            if (update.Text.Length > 0)
            {
                return update.Text.Length;
            }
        }

        return 0;
    }

    [Benchmark(Description = "8 concurrent requests × 64 tokens, batched (MaxBatchSize 8)")]
    public async Task<int> EightBatched() => (await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => _batched.GetResponseAsync("Count on: g", Options)))).Length;

    [Benchmark(Description = "8 concurrent requests × 64 tokens, one at a time (MaxBatchSize 1)")]
    public async Task<int> EightOneByOne() => (await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => _unbatched.GetResponseAsync("Count on: g", Options)))).Length;
}

// Embeddings per second: the ONNX embedder (tiny BERT-like model) with 64 texts in one call (one batched run) against
// 64 calls one after another (the naive loop, baseline), and the static Model2Vec embedder of the semantic cache.
[InProcess]
[MemoryDiagnoser]
public class OnnxEmbeddingBenchmark
{
    private string[] _texts = null!;
    private OnnxEmbeddingGenerator _onnx = null!;
    private Model2VecEmbeddingGenerator _static = null!;

    [GlobalSetup]
    public void Setup()
    {
        _onnx = new OnnxEmbeddingGenerator(new OnnxEmbeddingGeneratorOptions { ModelPath = TinyModels.Embedder(false), Device = OnnxDevice.Cpu, MaxBatchSize = 64, IntraOpThreads = 1 });
        _static = Model2VecEmbeddingGenerator.Load(TestData.PathOf("embedding", "model2vec-test-model"));
        string[] words = ["hello", "world", "the", "cat", "sat", "on", "mat", "a", "dog", "cats"];
        _texts = [.. Enumerable.Range(0, 64).Select(i => string.Join(' ', Enumerable.Range(0, 8 + (i % 9)).Select(j => words[(i * 7 + j * 3) % words.Length])))];
    }

    [GlobalCleanup]
    public void Cleanup() => _onnx.Dispose();

    [Benchmark(Baseline = true, Description = "ONNX, 64 calls of 1 text")]
    public async Task<int> OneByOne()
    {
        int n = 0;
        foreach (string text in _texts)
        {
            n += (await _onnx.GenerateAsync([text])).Count;
        }

        return n;
    }

    [Benchmark(Description = "ONNX, 1 call of 64 texts (one batched run)")]
    public async Task<int> Batched() => (await _onnx.GenerateAsync(_texts)).Count;

    [Benchmark(Description = "ONNX, 64 concurrent calls of 1 text (coalesced)")]
    public async Task<int> Coalesced() => (await Task.WhenAll(_texts.Select(t => _onnx.GenerateAsync([t])))).Length;

    [Benchmark(Description = "Model2Vec static, 1 call of 64 texts")]
    public async Task<int> Static() => (await _static.GenerateAsync(_texts)).Count;
}

using CostAware.Onnx.Internal;
using CostAware.Shared;
using Microsoft.Extensions.Logging.Abstractions;

namespace CostAware.Onnx.Tests;

// The cache is checked where it lives: logits of cached decoding against full recomputation, the shared buffer
// against grow mode, a left-padded batch against each row alone. All compared exactly (same float operations).
public sealed class KvCacheTests
{
    private static readonly int[] Prompt = [.. "Count: hello"u8.ToArray().Select(b => (int)b)];

    private static DecoderModel Load(string folder) =>
        DecoderModel.Load(DecoderConfig.Load(folder), new OnnxChatClientOptions { ModelPath = folder, Device = OnnxDevice.Cpu }, NullLogger.Instance);

    // Greedy decoding of n tokens; the logits of every step.
    private static List<float[]> Cached(DecoderModel model, bool shared, int steps, int chunk = 512)
    {
        List<float[]> all = [];
        using DecoderRunner runner = new(model, [Prompt.Length], shared, 64);
        runner.Prefill([Prompt], 0, chunk);
        for (int i = 0; i < steps; i++)
        {
            all.Add(runner.Logits.ToArray());
            runner.Step([System.Numerics.Tensors.TensorPrimitives.IndexOfMax(runner.Logits)]);
        }

        return all;
    }

    // The same tokens, each step recomputed from scratch with an empty cache.
    private static List<float[]> Uncached(DecoderModel model, int steps)
    {
        List<float[]> all = [];
        List<int> sequence = [.. Prompt];
        for (int i = 0; i < steps; i++)
        {
            using DecoderRunner runner = new(model, [sequence.Count], shared: false, 0);
            runner.Prefill([sequence], 0, 512);
            all.Add(runner.Logits.ToArray());
            sequence.Add(System.Numerics.Tensors.TensorPrimitives.IndexOfMax(runner.Logits));
        }

        return all;
    }

    // The test folders load in ONNX Runtime GenAI too (issue 23's comparison): its parser rejects a byte-order mark.
    [Fact]
    public void TheModelBuilderFolder_WritesItsGenAiConfigWithoutAByteOrderMark()
    {
        byte[] config = File.ReadAllBytes(Path.Combine(TestModels.TinyModels.GqaDecoder(), "genai_config.json"));
        Assert.Equal((byte)'{', config[0]);
    }

    [Fact]
    public void ConcatModel_CachedEqualsUncached()
    {
        using DecoderModel model = Load(ModelFolders.Concat);

        List<float[]> cached = Cached(model, shared: false, 8);
        List<float[]> uncached = Uncached(model, 8);

        for (int i = 0; i < 8; i++)
        {
            Assert.Equal(uncached[i], cached[i]);
        }
    }

    [Fact]
    public void ConcatModel_ChunkedPrefillEqualsOneRun()
    {
        using DecoderModel model = Load(ModelFolders.Concat);

        Assert.Equal(Cached(model, shared: false, 4), Cached(model, shared: false, 4, chunk: 5));
    }

    [Fact]
    public void GqaModel_SharedBufferEqualsGrowMode_AndBothEqualRecomputation()
    {
        using DecoderModel model = Load(ModelFolders.GqaShared);

        List<float[]> shared = Cached(model, shared: true, 8);
        List<float[]> grow = Cached(model, shared: false, 8);
        List<float[]> uncached = Uncached(model, 8);

        for (int i = 0; i < 8; i++)
        {
            Assert.Equal(grow[i], shared[i]);
            AssertClose(uncached[i], grow[i]);
        }
    }

    [Fact]
    public void TheCacheMatters_LogitsDifferWithAnotherHistory()
    {
        using DecoderModel model = Load(ModelFolders.Concat);
        using DecoderRunner a = new(model, [3], false, 0);
        using DecoderRunner b = new(model, [3], false, 0);

        a.Prefill([[1, 2, 3]], 0, 512);
        b.Prefill([[9, 8, 3]], 0, 512);

        Assert.Equal(System.Numerics.Tensors.TensorPrimitives.IndexOfMax(a.Logits), System.Numerics.Tensors.TensorPrimitives.IndexOfMax(b.Logits));
        Assert.NotEqual(a.Logits.ToArray(), b.Logits.ToArray());
    }

    [Fact]
    public void LeftPaddedBatch_EachRowEqualsItselfAlone()
    {
        using DecoderModel model = Load(ModelFolders.Concat);
        int[][] prompts = [[104, 101, 108], [97], [120, 121, 122, 65, 66]];
        using DecoderRunner batch = new(model, [.. prompts.Select(p => p.Length)], false, 0);
        batch.Prefill(prompts, 258, 512);
        int vocab = batch.VocabularySize;
        List<float[]> rows = [.. Enumerable.Range(0, 3).Select(r => batch.Logits.Slice(r * vocab, vocab).ToArray())];
        batch.Step([.. rows.Select(r => System.Numerics.Tensors.TensorPrimitives.IndexOfMax(r))]);
        List<float[]> nextRows = [.. Enumerable.Range(0, 3).Select(r => batch.Logits.Slice(r * vocab, vocab).ToArray())];

        for (int r = 0; r < prompts.Length; r++)
        {
            using DecoderRunner alone = new(model, [prompts[r].Length], false, 0);
            alone.Prefill([prompts[r]], 258, 512);
            AssertClose(alone.Logits.ToArray(), rows[r]);
            alone.Step([System.Numerics.Tensors.TensorPrimitives.IndexOfMax(alone.Logits)]);
            AssertClose(alone.Logits.ToArray(), nextRows[r]);
        }
    }

    // Batched matrix products may sum in another order than single-row ones: equal to float rounding, not bit for bit.
    internal static void AssertClose(float[] expected, float[] actual, float tolerance = 1e-5f)
    {
        Assert.Equal(expected.Length, actual.Length);
        float worst = 0;
        for (int i = 0; i < expected.Length; i++)
        {
            worst = MathF.Max(worst, MathF.Abs(expected[i] - actual[i]));
        }

        Assert.True(worst < tolerance, $"max |difference| {worst}");
        Assert.Equal(System.Numerics.Tensors.TensorPrimitives.IndexOfMax(expected), System.Numerics.Tensors.TensorPrimitives.IndexOfMax(actual));
    }

    [Fact]
    public void SharedBuffer_RefusesToRunPastItsCapacity()
    {
        using DecoderModel model = Load(ModelFolders.GqaShared);
        using DecoderRunner runner = new(model, [Prompt.Length], shared: true, Prompt.Length);
        runner.Prefill([Prompt], 0, 512);

        _ = Assert.Throws<InvalidOperationException>(() => runner.Step([1]));
    }
}

using System.Numerics.Tensors;
using CostAware.Onnx.Tests.TestModels;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;

namespace CostAware.Onnx.Tests;

public sealed class EmbeddingTests
{
    private static readonly Lazy<string> Plain = new(() => TinyModels.Embedder(withSentenceEmbedding: false));
    private static readonly Lazy<string> Pooled = new(() => TinyModels.Embedder(withSentenceEmbedding: true, tokenizerJson: true));

    // What the model computes for a token sequence, pooled and normalised in the test: the known answer.
    private static float[] Expected(int[] ids, OnnxPooling pooling, bool normalize = true)
    {
        float[] table = TinyModels.EmbedderTable;
        float[] types = TinyModels.TypeTable;
        int d = TinyModels.EmbeddingSize;
        float[] vector = new float[d];
        IEnumerable<int> used = pooling == OnnxPooling.Cls ? ids.Take(1) : ids;
        foreach (int id in used)
        {
            for (int i = 0; i < d; i++)
            {
                vector[i] += table[(id * d) + i] + types[i];
            }
        }

        TensorPrimitives.Divide(vector, used.Count(), vector);
        if (normalize)
        {
            TensorPrimitives.Divide(vector, TensorPrimitives.Norm(vector), vector);
        }

        return vector;
    }

    private static void AssertClose(float[] expected, ReadOnlyMemory<float> actual)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
        {
            Assert.True(MathF.Abs(expected[i] - actual.Span[i]) < 1e-5f, $"[{i}] {expected[i]} vs {actual.Span[i]}");
        }
    }

    [Theory]
    [InlineData(OnnxPooling.Mean)]
    [InlineData(OnnxPooling.Cls)]
    public async Task Pooling_GivesTheKnownVector(OnnxPooling pooling)
    {
        using OnnxEmbeddingGenerator generator = new(new OnnxEmbeddingGeneratorOptions { ModelPath = Plain.Value, Pooling = pooling, Device = OnnxDevice.Cpu });

        GeneratedEmbeddings<Embedding<float>> result = await generator.GenerateAsync(["Hello world!", "The cats sat"]);

        // [CLS] hello world ! [SEP] and [CLS] the cat ##s sat [SEP]
        AssertClose(Expected([2, 5, 6, 12, 3], pooling), result[0].Vector);
        AssertClose(Expected([2, 7, 8, 13, 9, 3], pooling), result[1].Vector);
        Assert.Equal(11, result.Usage?.InputTokenCount);
        Assert.Equal(TinyModels.EmbeddingSize, generator.Dimensions);
    }

    [Fact]
    public async Task ModelOutput_FromTokenizerJson_EqualsMeanPooling()
    {
        using OnnxEmbeddingGenerator generator = new(new OnnxEmbeddingGeneratorOptions { ModelPath = Pooled.Value, Device = OnnxDevice.Cpu });

        GeneratedEmbeddings<Embedding<float>> result = await generator.GenerateAsync(["Hello world!"]);

        AssertClose(Expected([2, 5, 6, 12, 3], OnnxPooling.Mean), result[0].Vector);
        EmbeddingGeneratorMetadata metadata = generator.GetRequiredService<EmbeddingGeneratorMetadata>();
        Assert.Equal("onnxruntime", metadata.ProviderName);
        Assert.Equal(TinyModels.EmbeddingSize, metadata.DefaultModelDimensions);
    }

    [Fact]
    public async Task Unnormalised_KeepsTheMean()
    {
        using OnnxEmbeddingGenerator generator = new(new OnnxEmbeddingGeneratorOptions { ModelPath = Plain.Value, Pooling = OnnxPooling.Mean, Normalize = false, Device = OnnxDevice.Cpu });

        GeneratedEmbeddings<Embedding<float>> result = await generator.GenerateAsync(["dog"]);

        AssertClose(Expected([2, 14, 3], OnnxPooling.Mean, normalize: false), result[0].Vector);
    }

    [Fact]
    public async Task ConcurrentCallers_AreCoalesced_AndEachGetsItsOwnVectors()
    {
        using OnnxEmbeddingGenerator generator = new(new OnnxEmbeddingGeneratorOptions { ModelPath = Plain.Value, Pooling = OnnxPooling.Mean, MaxBatchSize = 16, Device = OnnxDevice.Cpu });
        string[] texts = ["hello", "hello world", "the cat sat on the mat", "a dog !", "cats", "world hello the"];
        float[][] alone = [.. await Task.WhenAll(texts.Select(async t => (await generator.GenerateAsync([t]))[0].Vector.ToArray()))];

        GeneratedEmbeddings<Embedding<float>>[] together = await Task.WhenAll(Enumerable.Range(0, 60).Select(i => generator.GenerateAsync([texts[i % texts.Length], texts[(i + 1) % texts.Length]])));

        for (int i = 0; i < together.Length; i++)
        {
            AssertClose(alone[i % texts.Length], together[i][0].Vector);
            AssertClose(alone[(i + 1) % texts.Length], together[i][1].Vector);
        }
    }

    [Fact]
    public async Task LongText_IsCutToMaxSequenceLength_KeepingTheEndMarker()
    {
        using OnnxEmbeddingGenerator generator = new(new OnnxEmbeddingGeneratorOptions { ModelPath = Plain.Value, Pooling = OnnxPooling.Mean, MaxSequenceLength = 4, Device = OnnxDevice.Cpu });

        GeneratedEmbeddings<Embedding<float>> result = await generator.GenerateAsync(["hello world the cat"]);

        AssertClose(Expected([2, 5, 6, 3], OnnxPooling.Mean), result[0].Vector);
        Assert.Equal(4, result.Usage?.InputTokenCount);
    }

    [Fact]
    public async Task RegisteredWithDependencyInjection_AsTheEmbeddingGenerator()
    {
        ServiceCollection services = new();
        _ = services.AddCostAwareOnnxEmbeddingGenerator(o =>
        {
            o.ModelPath = Plain.Value;
            o.Device = OnnxDevice.Cpu;
        });
        await using ServiceProvider provider = services.BuildServiceProvider();

        IEmbeddingGenerator<string, Embedding<float>> generator = provider.GetRequiredService<IEmbeddingGenerator<string, Embedding<float>>>();

        Assert.Same(provider.GetRequiredService<OnnxEmbeddingGenerator>(), generator);
        Assert.Equal(TinyModels.EmbeddingSize, (await generator.GenerateAsync(["hello"]))[0].Vector.Length);
    }

    [Fact]
    public void ModelFolderWithoutOnnxFile_FailsNamingIt()
    {
        string empty = TinyModels.NewFolder("empty");
        File.WriteAllLines(Path.Combine(empty, "vocab.txt"), TinyModels.EmbedderVocabulary);

        OnnxBackendException error = Assert.Throws<OnnxBackendException>(() => new OnnxEmbeddingGenerator(new OnnxEmbeddingGeneratorOptions { ModelPath = empty }));

        Assert.Equal(OnnxBackendFailure.UnsupportedModel, error.Failure);
        Assert.Contains("no .onnx file", error.Message, StringComparison.Ordinal);
    }
}

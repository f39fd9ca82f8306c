using CostAware.Tests.TestUtilities;

namespace CostAware.SemanticCache.Tests.Indexes;

public sealed class HnswVectorIndexTests
{
    // Recall of HNSW at its default settings against the exact flat index: the fraction of queries whose true nearest
    // entry is HNSW's first result (ties count), and the mean overlap of the top 10.
    private static (double Top1, double RecallAt10) Recall(IReadOnlyList<float[]> data, IReadOnlyList<float[]> queries)
    {
        using FlatVectorIndex flat = new(data[0].Length);
        using HnswVectorIndex hnsw = new(data[0].Length);
        for (int i = 0; i < data.Count; i++)
        {
            flat.Add("p", i, data[i]);
            hnsw.Add("p", i, data[i]);
        }

        int top1 = 0;
        double recall = 0;
        VectorMatch[] exact = new VectorMatch[10];
        VectorMatch[] approximate = new VectorMatch[10];
        foreach (float[] query in queries)
        {
            int n = flat.Search("p", query, exact);
            int m = hnsw.Search("p", query, approximate);
            Assert.Equal(n, m);
            top1 += approximate[0].Similarity >= exact[0].Similarity - 1e-6f ? 1 : 0;
            float tenth = exact[n - 1].Similarity;
            recall += (double)approximate.Take(m).Count(a => a.Similarity >= tenth - 1e-6f) / n;
        }

        return ((double)top1 / queries.Count, recall / queries.Count);
    }

    [Fact]
    public async Task Recall_on_embedded_questions_meets_the_targets()
    {
        List<string> questions = QqpData.Questions(12_000);
        LexicalEmbeddingGenerator embedder = new(256);
        float[][] vectors = [.. (await embedder.GenerateAsync(questions)).Select(e => e.Vector.ToArray())];

        (double top1, double recall10) = Recall(vectors[..10_000], vectors[10_000..]);

        Assert.True(top1 >= 0.99, $"top-1 {top1:P1}");
        Assert.True(recall10 >= 0.95, $"recall@10 {recall10:P1}");
    }

    [Fact]
    public void Recall_on_clustered_data_meets_the_targets()
    {
        Random random = new(7);
        const int dims = 96;
        float[][] centres = [.. Enumerable.Range(0, 200).Select(_ => Gaussian(random, dims, 1f))];
        float[] Point() => [.. centres[random.Next(centres.Length)].Zip(Gaussian(random, dims, 0.35f), (c, n) => c + n)];
        float[][] data = [.. Enumerable.Range(0, 20_000).Select(_ => Point())];
        float[][] queries = [.. Enumerable.Range(0, 500).Select(_ => Point())];

        (double top1, double recall10) = Recall(data, queries);

        Assert.True(top1 >= 0.99, $"top-1 {top1:P1}");
        Assert.True(recall10 >= 0.95, $"recall@10 {recall10:P1}");
    }

    [Fact]
    public void Removed_entries_are_never_returned_and_the_graph_survives_heavy_removal()
    {
        Random random = new(3);
        using HnswVectorIndex index = new(32);
        float[][] data = [.. Enumerable.Range(0, 3000).Select(_ => Gaussian(random, 32, 1f))];
        for (int i = 0; i < data.Length; i++)
        {
            index.Add("p", i, data[i]);
        }

        // Remove two thirds (this rebuilds the graph on the way), then every search sees only live ids.
        for (int i = 0; i < data.Length; i++)
        {
            if (i % 3 != 0)
            {
                Assert.True(index.Remove("p", i));
            }
        }

        Assert.Equal(1000, index.Count);
        VectorMatch[] results = new VectorMatch[10];
        for (int i = 0; i < data.Length; i += 7)
        {
            int n = index.Search("p", data[i], results);
            Assert.Equal(10, n);
            Assert.All(results, r => Assert.Equal(0, r.Id % 3));
            if (i % 3 == 0)
            {
                Assert.Equal(i, results[0].Id);
            }
        }
    }

    [Fact]
    public void Partitions_are_separate_and_an_upsert_replaces_the_vector()
    {
        using HnswVectorIndex index = new(2);
        index.Add("a", 1, [1f, 0f]);
        index.Add("b", 2, [1f, 0f]);
        index.Add("a", 1, [0f, 1f]);

        VectorMatch[] results = new VectorMatch[4];
        Assert.Equal(1, index.Search("a", [0f, 1f], results));
        Assert.Equal(new VectorMatch(1, 1f), results[0]);
        Assert.Equal(2, index.Count);
        Assert.Equal(0, index.Search("c", [0f, 1f], results));
    }

    [Fact]
    public async Task Concurrent_searches_alongside_a_writer_stay_consistent()
    {
        Random random = new(5);
        using HnswVectorIndex index = new(16);
        float[][] data = [.. Enumerable.Range(0, 4000).Select(_ => Gaussian(random, 16, 1f))];
        for (int i = 0; i < 1000; i++)
        {
            index.Add("p", i, data[i]);
        }

        Task writer = Task.Run(() =>
        {
            for (int i = 1000; i < data.Length; i++)
            {
                index.Add("p", i, data[i]);
                if (i % 5 == 0)
                {
                    index.Remove("p", i - 500);
                }
            }
        });
        Parallel.For(0, 4, _ =>
        {
            VectorMatch[] results = new VectorMatch[5];
            while (!writer.IsCompleted)
            {
                int n = index.Search("p", data[random.Next(1000)], results);
                Assert.InRange(n, 1, 5);
                for (int k = 1; k < n; k++)
                {
                    Assert.True(results[k - 1].Similarity >= results[k].Similarity);
                }
            }
        });
        await writer;
    }

    [Theory]
    [InlineData(float.NaN)]
    [InlineData(float.PositiveInfinity)]
    public void Bad_vectors_are_rejected_at_the_boundary(float bad)
    {
        using HnswVectorIndex index = new(3);
        Assert.Throws<ArgumentException>(() => index.Add("p", 1, [1f, bad, 0f]));
        Assert.Throws<ArgumentException>(() => index.Add("p", 1, [0f, 0f, 0f]));
        Assert.Throws<ArgumentException>(() => index.Add("p", 1, [1f, 0f]));
    }

    private static float[] Gaussian(Random random, int dims, float scale)
    {
        float[] v = new float[dims];
        for (int i = 0; i < dims; i++)
        {
            v[i] = scale * (float)(Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble()));
        }

        return v;
    }
}

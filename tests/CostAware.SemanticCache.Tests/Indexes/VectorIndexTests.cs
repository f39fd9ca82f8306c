using CostAware.SemanticCache.Internal;
using CostAware.Shared;
using CsCheck;

namespace CostAware.SemanticCache.Tests.Indexes;

// Flat-index exactness, and the behaviour every index shares (run for each kind).
public sealed class VectorIndexTests
{
    private static float[] Vector(Random random, int dims)
    {
        float[] v = new float[dims];
        do
        {
            for (int i = 0; i < dims; i++)
            {
                v[i] = (float)((random.NextDouble() * 2) - 1);
            }
        }
        while (v.All(static x => x == 0f));

        return v;
    }

    // The scalar reference: cosine in double precision, best first, ties by smaller id.
    private static (long Id, double Similarity)[] Reference(IReadOnlyList<(long Id, float[] Vector)> entries, float[] query, int k)
    {
        double qn = Math.Sqrt(query.Sum(static x => (double)x * x));
        return [.. entries
            .Select(e => (e.Id, Similarity: e.Vector.Zip(query).Sum(static p => (double)p.First * p.Second) / (Math.Sqrt(e.Vector.Sum(static x => (double)x * x)) * qn)))
            .OrderByDescending(static e => e.Similarity).ThenBy(static e => e.Id)
            .Take(k)];
    }

    [Fact]
    public void Search_EveryLengthFrom1To300_MatchesTheScalarReference() =>
        Gen.Select(Gen.Int[1, 300], Gen.Int[0, 120], Gen.Int[1, 12], Gen.Int).Sample(static (dims, count, k, seed) =>
        {
            Random random = new(seed);
            List<(long, float[])> entries = [.. Enumerable.Range(0, count).Select(i => ((long)i, Vector(random, dims)))];
            using FlatVectorIndex index = new(dims);
            foreach ((long id, float[] v) in entries)
            {
                index.Add("p", id, v);
            }

            float[] query = Vector(random, dims);
            VectorMatch[] results = new VectorMatch[k];
            int found = index.Search("p", query, results);
            var expected = Reference(entries, query, k);

            // Same scores to float precision; ids equal except where two scores are within that precision.
            return found == expected.Length
                && results.Take(found).Zip(expected).All(static p => Math.Abs(p.First.Similarity - p.Second.Similarity) < 1e-5)
                && results.Take(found).Zip(expected).All(p => p.First.Id == p.Second.Id || Math.Abs(p.First.Similarity - p.Second.Similarity) < 1e-5);
        });

    [Fact]
    public void Search_LargePartitionScannedInParallel_SameAsReference()
    {
        Random random = new(42);
        const int Dims = 16;
        int count = (int)(IndexPartition.ParallelThresholdBytes / (Dims * sizeof(float))) + 5_001;
        List<(long, float[])> entries = [.. Enumerable.Range(0, count).Select(i => ((long)i, Vector(random, Dims)))];
        using FlatVectorIndex index = new(Dims);
        foreach ((long id, float[] v) in entries)
        {
            index.Add("big", id, v);
        }

        float[] query = Vector(random, Dims);
        VectorMatch[] results = new VectorMatch[10];
        int found = index.Search("big", query, results);

        Assert.Equal(10, found);
        Assert.Equal(Reference(entries, query, 10).Select(static e => e.Id), results.Select(static r => r.Id));
    }

    public static TheoryData<string> Kinds => ["flat", "int8"];

    private static IVectorIndex Create(string kind, int dims) => kind == "flat" ? new FlatVectorIndex(dims) : new Int8VectorIndex(dims);

    [Theory]
    [MemberData(nameof(Kinds))]
    public void Search_NeverCrossesPartitions(string kind)
    {
        using IVectorIndex index = Create(kind, 3);
        index.Add("tenant-a", 1, [1, 0, 0]);
        index.Add("tenant-b", 2, [0, 1, 0]);
        VectorMatch[] results = new VectorMatch[5];

        Assert.Equal(1, index.Search("tenant-b", [1, 0, 0], results));
        Assert.Equal(2, results[0].Id);
        Assert.Equal(0, index.Search("tenant-c", [1, 0, 0], results));
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public void AddRemoveReplace_KeepCountAndResultsConsistent(string kind)
    {
        using IVectorIndex index = Create(kind, 2);
        index.Add("p", 1, [1, 0]);
        index.Add("p", 2, [0, 1]);
        index.Add("p", 3, [-1, 0]);
        index.Add("p", 2, [1, 0.1f]);   // replaces id 2's vector
        VectorMatch[] results = new VectorMatch[3];

        Assert.Equal(3, index.Count);
        Assert.True(index.Remove("p", 1));
        Assert.False(index.Remove("p", 1));
        Assert.Equal(2, index.Count);
        Assert.Equal(2, index.Search("p", [1, 0], results));
        Assert.Equal(2, results[0].Id);
        Assert.Equal(-1f, results[1].Similarity, 5);
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public void Search_SimilarityIsCosineWhateverTheLengths(string kind)
    {
        using IVectorIndex index = Create(kind, 2);
        index.Add("p", 1, [3, 4]);
        VectorMatch[] results = new VectorMatch[1];

        _ = index.Search("p", [30, 40], results);

        Assert.Equal(1f, results[0].Similarity, 6);
    }

    [Theory]
    [InlineData("flat", new float[] { 1, 2 }, "The vector has 2 dimensions; this index holds 3.")]
    [InlineData("flat", new float[] { 1, float.NaN, 0 }, "The vector has a NaN element at index 1.")]
    [InlineData("flat", new float[] { float.PositiveInfinity, 0, 0 }, "The vector has an infinite element at index 0.")]
    [InlineData("flat", new float[] { 0, 0, 0 }, "The vector has zero length")]
    [InlineData("int8", new float[] { 1, 2 }, "The vector has 2 dimensions; this index holds 3.")]
    [InlineData("int8", new float[] { 1, float.NaN, 0 }, "The vector has a NaN element at index 1.")]
    [InlineData("int8", new float[] { 0, 0, 0 }, "The vector has zero length")]
    public void AddAndSearch_BadVector_RejectedWithTheReason(string kind, float[] vector, string message)
    {
        using IVectorIndex index = Create(kind, 3);

        ArgumentException add = Assert.Throws<ArgumentException>(nameof(vector), () => index.Add("p", 1, vector));
        ArgumentException search = Assert.Throws<ArgumentException>("query", () => index.Search("p", vector, new VectorMatch[1]));
        Assert.StartsWith(message, add.Message, StringComparison.Ordinal);
        Assert.StartsWith(message, search.Message, StringComparison.Ordinal);
        Assert.Equal(0, index.Count);
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public async Task ConcurrentSearchesWithAWriter_AlwaysConsistent(string kind)
    {
        using IVectorIndex index = Create(kind, 8);
        Random random = new(7);
        for (int i = 0; i < 500; i++)
        {
            index.Add("p", i, Vector(random, 8));
        }

        using CancellationTokenSource stop = new();
        Task writer = Task.Run(() =>
        {
            Random r = new(8);
            for (int i = 0; i < 5_000; i++)
            {
                long id = r.Next(1_000);
                if (r.Next(2) == 0)
                {
                    index.Add("p", id, Vector(r, 8));
                }
                else
                {
                    _ = index.Remove("p", id);
                }
            }

            stop.Cancel();
        });
        Task[] readers = [.. Enumerable.Range(0, 2).Select(n => Task.Run(() =>
        {
            Random r = new(n);
            VectorMatch[] results = new VectorMatch[10];
            while (!stop.IsCancellationRequested)
            {
                int found = index.Search("p", Vector(r, 8), results);
                Assert.InRange(found, 0, 10);
                for (int i = 1; i < found; i++)
                {
                    Assert.True(results[i - 1].Similarity >= results[i].Similarity);
                }

                Assert.Equal(found, results.Take(found).Select(static m => m.Id).Distinct().Count());
            }
        }))];

        await Task.WhenAll([writer, .. readers]);
    }
}

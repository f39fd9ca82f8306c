using System.Globalization;
using System.Text;
using System.Text.Json;
using CostAware.SemanticCache.Internal;
using CostAware.Tests.TestUtilities;
using Microsoft.Extensions.AI;

namespace CostAware.Benchmarks;

// The semantic cache's quality on labelled data (../shared/data/semantic-cache), per embedding model, with each guard
// on and off. Three protocols:
//  1. pairs: every QQP pair (30,141 duplicates, 50,713 hard non-duplicates on the same topic) as a hit/miss decision;
//  2. cache replay: one member of each QQP duplicate group is stored; the other members (should hit their group) and
//     the hard negatives of the stored members (should not hit) are the queries, each checked against the 4 nearest
//     entries as the stage does;
//  3. GPTCache's mock_data: every origin stored, every paraphrase queried (GPTCache publishes its own counts).
internal static class SemanticQualityEvaluation
{
    private const int Candidates = 4;
    private static readonly float[] Thresholds = [0.5f, 0.6f, 0.7f, 0.75f, 0.8f, 0.85f, 0.9f, 0.95f];

    private static readonly (string Name, SemanticGuards Guards, float Floor)[] GuardSets =
    [
        ("none", SemanticGuards.None, 0f),
        ("numbers", SemanticGuards.Numbers, 0f),
        ("dates", SemanticGuards.Dates, 0f),
        ("negations", SemanticGuards.Negations, 0f),
        ("entities", SemanticGuards.Entities, 0f),
        ("all four (default)", SemanticGuards.All, 0f),
        ("lexical floor 0.2", SemanticGuards.None, 0.2f),
        ("lexical floor 0.3", SemanticGuards.None, 0.3f),
        ("all four + floor 0.3", SemanticGuards.All, 0.3f),
    ];

    public static async Task RunAsync(string output)
    {
        StringBuilder md = new();
        md.AppendLine("# Semantic cache quality (QQP hard negatives, GPTCache mock data)");
        md.AppendLine();
        md.AppendLine("Written by `dotnet run -c Release --project benchmarks/CostAware.Benchmarks -- --semantic-quality`. Every figure names the embedding that produced it; neither embedding here is a strong model, so these figures show what the guards and thresholds do, not how good semantic caching can be. A real embedding model (the app's provider, a local ONNX model) moves every row.");
        md.AppendLine();

        IReadOnlyList<QqpPair> pairs = QqpData.Pairs;
        List<string> texts = [.. pairs.SelectMany(p => new[] { p.TextA, p.TextB }).Distinct(StringComparer.Ordinal)];
        Dictionary<string, int> textIndex = texts.Select((t, i) => (t, i)).ToDictionary(x => x.t, x => x.i, StringComparer.Ordinal);
        TextFeatures[] features = [.. texts.Select(TextFeatures.Extract)];
        md.AppendLine(CultureInfo.InvariantCulture, $"QQP: {pairs.Count:N0} pairs ({pairs.Count(p => p.Label == 1):N0} duplicates, {pairs.Count(p => p.Label == 0):N0} hard non-duplicates), {texts.Count:N0} distinct questions.");
        md.AppendLine();

        (string Name, IEmbeddingGenerator<string, Embedding<float>> Generator)[] embedders =
        [
            ("lexical-hash-512 (built-in default)", new LexicalEmbeddingGenerator()),
            ("model2vec test model (64 dims, 128 vectors)", Model2VecEmbeddingGenerator.Load(TestData.PathOf("embedding", "model2vec-test-model"))),
        ];

        foreach ((string name, IEmbeddingGenerator<string, Embedding<float>> generator) in embedders)
        {
            Console.WriteLine($"Embedding {texts.Count} questions with {name}…");
            float[][] vectors = await EmbedAsync(generator, texts);
            md.AppendLine(CultureInfo.InvariantCulture, $"## Embedding: {name}");
            md.AppendLine();
            PairsProtocol(md, pairs, textIndex, vectors, features);
            ReplayProtocol(md, pairs, textIndex, vectors, features);
            await MockDataProtocolAsync(md, generator);
        }

        await File.WriteAllTextAsync(output, md.ToString());
        Console.WriteLine($"Wrote {output}");
    }

    private static async Task<float[][]> EmbedAsync(IEmbeddingGenerator<string, Embedding<float>> generator, IReadOnlyList<string> texts)
    {
        float[][] vectors = new float[texts.Count][];
        for (int i = 0; i < texts.Count; i += 1000)
        {
            var batch = await generator.GenerateAsync(texts.Skip(i).Take(1000));
            for (int j = 0; j < batch.Count; j++)
            {
                float[] v = batch[j].Vector.ToArray();
                float norm = System.Numerics.Tensors.TensorPrimitives.Norm(v);
                if (norm > 0)
                {
                    System.Numerics.Tensors.TensorPrimitives.Divide(v, norm, v);
                }

                vectors[i + j] = v;
            }
        }

        return vectors;
    }

    private static float Dot(float[] a, float[] b) => System.Numerics.Tensors.TensorPrimitives.Dot(a, b);

    private static void PairsProtocol(StringBuilder md, IReadOnlyList<QqpPair> pairs, Dictionary<string, int> index, float[][] vectors, TextFeatures[] features)
    {
        (float Similarity, int A, int B, bool Duplicate)[] scored = [.. pairs.Select(p =>
        {
            int a = index[p.TextA], b = index[p.TextB];
            return (Dot(vectors[a], vectors[b]), a, b, p.Label == 1);
        })];
        md.AppendLine(CultureInfo.InvariantCulture, $"### 1. Pairs: is the pair served as a hit? (AUC of similarity alone: {Auc(scored):F3})");
        md.AppendLine();
        md.AppendLine("Precision = served pairs that are duplicates; recall = duplicates served; false-hit rate = non-duplicates served.");
        md.AppendLine();
        md.AppendLine("| threshold | guards | precision | recall | false-hit rate |");
        md.AppendLine("|---|---|---|---|---|");
        foreach (float threshold in Thresholds)
        {
            foreach ((string guardName, SemanticGuards guards, float floor) in GuardSets)
            {
                if (guardName is not ("none" or "all four (default)") && threshold is not (0.7f or 0.8f or 0.9f))
                {
                    continue;
                }

                int tp = 0, fp = 0, positives = 0, negatives = 0;
                foreach ((float similarity, int a, int b, bool duplicate) in scored)
                {
                    _ = duplicate ? positives++ : negatives++;
                    bool hit = similarity >= threshold && GuardCheck.Veto(features[b], features[a], guards, floor) is null;
                    if (hit)
                    {
                        _ = duplicate ? tp++ : fp++;
                    }
                }

                md.AppendLine(CultureInfo.InvariantCulture, $"| {threshold:F2} | {guardName} | {Ratio(tp, tp + fp)} | {Ratio(tp, positives)} | {Ratio(fp, negatives)} |");
            }
        }

        md.AppendLine();
    }

    private static void ReplayProtocol(StringBuilder md, IReadOnlyList<QqpPair> pairs, Dictionary<string, int> index, float[][] vectors, TextFeatures[] features)
    {
        // Duplicate groups by union-find over the duplicate pairs.
        int[] parent = [.. Enumerable.Range(0, vectors.Length)];
        int Find(int x) => parent[x] == x ? x : parent[x] = Find(parent[x]);
        foreach (QqpPair p in pairs.Where(p => p.Label == 1))
        {
            parent[Find(index[p.TextA])] = Find(index[p.TextB]);
        }

        HashSet<int> inPositive = [.. pairs.Where(p => p.Label == 1).SelectMany(p => new[] { index[p.TextA], index[p.TextB] })];
        Dictionary<int, int> representative = [];
        foreach (int t in inPositive.Order())
        {
            _ = representative.TryAdd(Find(t), t);
        }

        HashSet<int> stored = [.. representative.Values];
        List<(int Query, bool ShouldHit)> queries = [.. inPositive.Where(t => !stored.Contains(t)).Select(t => (t, true))];
        int positiveQueries = queries.Count;
        foreach (QqpPair p in pairs.Where(p => p.Label == 0))
        {
            int a = index[p.TextA], b = index[p.TextB];
            if (stored.Contains(a) && !stored.Contains(b) && !inPositive.Contains(b))
            {
                queries.Add((b, false));
            }
            else if (stored.Contains(b) && !stored.Contains(a) && !inPositive.Contains(a))
            {
                queries.Add((a, false));
            }
        }

        queries = [.. queries.DistinctBy(q => q.Query)];
        Random random = new(11);
        List<(int Query, bool ShouldHit)> sample = [.. queries.Where(q => q.ShouldHit).OrderBy(_ => random.Next()).Take(12_000),
            .. queries.Where(q => !q.ShouldHit).OrderBy(_ => random.Next()).Take(12_000)];

        using FlatVectorIndex flat = new(vectors[0].Length);
        foreach (int s in stored)
        {
            flat.Add("p", s, vectors[s]);
        }

        // The nearest entries of each query, found once; each threshold and guard set is then a filter over them.
        VectorMatch[][] nearest = new VectorMatch[sample.Count][];
        Parallel.For(0, sample.Count, i =>
        {
            VectorMatch[] results = new VectorMatch[Candidates];
            int n = flat.Search("p", vectors[sample[i].Query], results);
            nearest[i] = results[..n];
        });

        md.AppendLine(CultureInfo.InvariantCulture, $"### 2. Cache replay: {stored.Count:N0} stored questions (one per duplicate group), {sample.Count(s => s.ShouldHit):N0} duplicate queries and {sample.Count(s => !s.ShouldHit):N0} hard-negative queries (samples of {positiveQueries:N0} and {queries.Count - positiveQueries:N0})");
        md.AppendLine();
        md.AppendLine("Hit precision = hits that served the query's own group; recall = duplicate queries served their group's answer; false-hit rate = queries (of either kind) served another group's answer.");
        md.AppendLine();
        md.AppendLine("| threshold | guards | hit precision | recall | false-hit rate | hard negatives served |");
        md.AppendLine("|---|---|---|---|---|---|");
        foreach (float threshold in Thresholds)
        {
            foreach ((string guardName, SemanticGuards guards, float floor) in GuardSets)
            {
                if (guardName is not ("none" or "all four (default)") && threshold is not (0.7f or 0.8f or 0.9f))
                {
                    continue;
                }

                int right = 0, wrong = 0, negativeServed = 0;
                for (int i = 0; i < sample.Count; i++)
                {
                    int query = sample[i].Query;
                    foreach (VectorMatch match in nearest[i])
                    {
                        if (match.Similarity < threshold)
                        {
                            break;
                        }

                        if (GuardCheck.Veto(features[query], features[match.Id], guards, floor) is not null)
                        {
                            continue;
                        }

                        bool sameGroup = Find((int)match.Id) == Find(query);
                        _ = sameGroup ? right++ : wrong++;
                        negativeServed += sample[i].ShouldHit ? 0 : 1;
                        break;
                    }
                }

                int shouldHit = sample.Count(s => s.ShouldHit);
                md.AppendLine(CultureInfo.InvariantCulture, $"| {threshold:F2} | {guardName} | {Ratio(right, right + wrong)} | {Ratio(right, shouldHit)} | {Ratio(wrong, sample.Count)} | {Ratio(negativeServed, sample.Count - shouldHit)} |");
            }
        }

        md.AppendLine();
    }

    private static async Task MockDataProtocolAsync(StringBuilder md, IEmbeddingGenerator<string, Embedding<float>> generator)
    {
        using FileStream file = File.OpenRead(TestData.PathOf("semantic-cache", "mock_data.json"));
        List<Dictionary<string, string>> rows = (await JsonSerializer.DeserializeAsync<List<Dictionary<string, string>>>(file))!;
        float[][] origins = await EmbedAsync(generator, [.. rows.Select(r => r["origin"])]);
        float[][] similar = await EmbedAsync(generator, [.. rows.Select(r => r["similar"])]);
        TextFeatures[] originFeatures = [.. rows.Select(r => TextFeatures.Extract(r["origin"]))];
        using FlatVectorIndex flat = new(origins[0].Length);
        for (int i = 0; i < origins.Length; i++)
        {
            flat.Add("p", i, origins[i]);
        }

        md.AppendLine(CultureInfo.InvariantCulture, $"### 3. GPTCache mock data: {rows.Count} origins stored, each paraphrase queried (right = its own origin served)");
        md.AppendLine();
        md.AppendLine("GPTCache's published counts with its own default embedding: 0.95 → 425 right / 25 wrong / 549 miss; 0.90 → 804 / 77 / 118; 0.80 → 904 / 92 / 3.");
        md.AppendLine();
        md.AppendLine("| threshold | guards | right | wrong | miss |");
        md.AppendLine("|---|---|---|---|---|");
        VectorMatch[] results = new VectorMatch[Candidates];
        foreach (float threshold in (float[])[0.95f, 0.9f, 0.8f, 0.7f, 0.6f])
        {
            foreach ((string guardName, SemanticGuards guards, float floor) in GuardSets.Where(g => g.Name is "none" or "all four (default)"))
            {
                int right = 0, wrong = 0;
                for (int i = 0; i < similar.Length; i++)
                {
                    TextFeatures query = TextFeatures.Extract(rows[i]["similar"]);
                    int n = flat.Search("p", similar[i], results);
                    for (int k = 0; k < n && results[k].Similarity >= threshold; k++)
                    {
                        if (GuardCheck.Veto(query, originFeatures[results[k].Id], guards, floor) is null)
                        {
                            _ = results[k].Id == i ? right++ : wrong++;
                            break;
                        }
                    }
                }

                md.AppendLine(CultureInfo.InvariantCulture, $"| {threshold:F2} | {guardName} | {right} | {wrong} | {rows.Count - right - wrong} |");
            }
        }

        md.AppendLine();
    }

    private static string Ratio(int part, int whole) => whole == 0 ? "–" : ((double)part / whole).ToString("P1", CultureInfo.InvariantCulture);

    // Mann-Whitney AUC: the chance that a random duplicate scores above a random non-duplicate.
    private static double Auc((float Similarity, int A, int B, bool Duplicate)[] scored)
    {
        var ranked = scored.OrderBy(s => s.Similarity).ToArray();
        double rankSum = 0;
        long positives = 0;
        int i = 0;
        while (i < ranked.Length)
        {
            int j = i;
            while (j < ranked.Length && ranked[j].Similarity == ranked[i].Similarity)
            {
                j++;
            }

            double averageRank = (i + j + 1) / 2.0;
            for (int k = i; k < j; k++)
            {
                if (ranked[k].Duplicate)
                {
                    rankSum += averageRank;
                    positives++;
                }
            }

            i = j;
        }

        long negatives = ranked.Length - positives;
        return (rankSum - (positives * (positives + 1) / 2.0)) / (positives * (double)negatives);
    }
}

using CostAware.SemanticCache.Internal;
using CostAware.Tests.TestUtilities;
using CsCheck;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace CostAware.SemanticCache.Tests.Caching;

// The error-bounded mode (MaxErrorRate), wrong-hit feedback, the near-exact tier and how local embedders are priced.
public sealed class ErrorBoundedCacheTests : IDisposable
{
    private readonly TestChatClient _inner = new();
    private readonly InMemoryCostLedger _ledger = new();
    private readonly List<IDisposable> _disposables = [];

    public void Dispose()
    {
        foreach (IDisposable d in _disposables)
        {
            d.Dispose();
        }
    }

    private static ChatResponse Answer(string text) =>
        new(new ChatMessage(ChatRole.Assistant, text))
        {
            ModelId = "gpt-4o-2024-08-06",
            FinishReason = ChatFinishReason.Stop,
            Usage = new UsageDetails { InputTokenCount = 1_000, OutputTokenCount = 200 },
        };

    private SemanticCacheChatClient Cache(IEmbeddingGenerator<string, Embedding<float>> embedder, Action<SemanticCacheOptions> configure, Func<string, string> answer)
    {
        _inner.GetResponseAsyncCallback = (messages, _, _) => Task.FromResult(Answer(answer(messages.Last().Text)));
        SemanticCacheOptions options = new();
        configure(options);
        SemanticCacheChatClient cache = new(_inner, embedder, options, ledger: _ledger);
        _disposables.Add(cache);
        return cache;
    }

    private static Task<ChatResponse> Ask(IChatClient client, string text) =>
        client.GetResponseAsync([new ChatMessage(ChatRole.User, text)], new ChatOptions().WithCostScope(new CostScope { Tenant = "acme" }));

    // Asks `times` fresh texts at one similarity from the stored question: evidence for the bound.
    private static async Task AskAtAsync(IChatClient cache, AngleEmbedder embedder, float similarity, int times)
    {
        for (int i = 0; i < times; i++)
        {
            _ = await Ask(cache, embedder.At(similarity));
        }
    }

    private static bool IsHit(ChatResponse response) => response.AdditionalProperties?.ContainsKey(CostAwareProperties.SemanticSimilarity) == true;

    [Fact]
    public async Task Nothing_is_served_by_meaning_until_verifications_meet_the_bound_then_paraphrases_are()
    {
        // Every query lies at cosine 0.95 from the one stored question, in its own direction, and has the same answer.
        AngleEmbedder embedder = new();
        SemanticCacheChatClient cache = Cache(embedder, o =>
        {
            o.MaxErrorRate = 0.05f;
            o.VerificationRate = 0f;
        }, _ => "Use the reset link.");
        _ = await Ask(cache, "stored");
        Assert.True(float.IsPositiveInfinity(cache.LearnedThreshold!.Value));

        int servedBefore = 0;
        for (int i = 0; i < 100; i++)
        {
            servedBefore += IsHit(await Ask(cache, embedder.At(0.95f))) ? 1 : 0;
        }

        // Wilson's 99 % bound with no error needs about 2.33² / 0.05 = 103 agreeing verifications.
        Assert.Equal(0, servedBefore);
        Assert.Equal(101, _inner.Calls);
        int servedAfter = 0;
        for (int i = 0; i < 20; i++)
        {
            servedAfter += IsHit(await Ask(cache, embedder.At(0.95f))) ? 1 : 0;
        }

        Assert.InRange(servedAfter, 15, 20);
        Assert.True(cache.LearnedThreshold <= 0.95f);

        // The verified answers were the stored one's: nothing else was stored.
        Assert.Equal(1, cache.Count);
    }

    [Fact]
    public async Task A_text_a_verification_confirmed_is_a_near_exact_hit_when_it_comes_again()
    {
        AngleEmbedder embedder = new();
        SemanticCacheChatClient cache = Cache(embedder, o => o.MaxErrorRate = 0.01f, _ => "Use the reset link.");
        _ = await Ask(cache, "stored");
        string paraphrase = embedder.At(0.9f);

        ChatResponse verified = await Ask(cache, paraphrase);
        ChatResponse again = await Ask(cache, paraphrase);

        Assert.False(IsHit(verified));
        Assert.Equal("near-exact", again.AdditionalProperties![CostAwareProperties.CacheHit]);
        Assert.Equal(2, _inner.Calls);
        Assert.Equal(1, cache.Count);
    }

    [Fact]
    public async Task A_confirmed_text_stays_a_near_exact_hit_after_a_snapshot()
    {
        AngleEmbedder embedder = new();
        SemanticCacheChatClient cache = Cache(embedder, o => o.MaxErrorRate = 0.01f, _ => "Use the reset link.");
        _ = await Ask(cache, "stored");
        string paraphrase = embedder.At(0.9f);
        _ = await Ask(cache, paraphrase);
        using MemoryStream snapshot = new();
        _ = await cache.SaveSnapshotAsync(snapshot);

        SemanticCacheChatClient restored = Cache(embedder, o => o.MaxErrorRate = 0.01f, _ => "Use the reset link.");
        Assert.Equal(1, await restored.RestoreSnapshotAsync(new MemoryStream(snapshot.ToArray())));
        int calls = _inner.Calls;
        ChatResponse again = await Ask(restored, paraphrase);

        Assert.Equal("near-exact", again.AdditionalProperties![CostAwareProperties.CacheHit]);
        Assert.Equal(calls, _inner.Calls);
    }

    [Fact]
    public async Task With_a_judge_a_verification_costs_a_judge_call_and_its_yes_is_served()
    {
        AngleEmbedder embedder = new();
        ScriptedJudge judge = new(candidate => !candidate.Query.Contains("at 0.600", StringComparison.Ordinal));
        _inner.GetResponseAsyncCallback = (_, _, _) => Task.FromResult(Answer("Use the reset link."));
        SemanticCacheOptions options = new() { MaxErrorRate = 0.05f, VerificationRate = 0f, AnswerEquivalence = SemanticAnswerEquivalence.Judge };
        using SemanticCacheChatClient cache = new(_inner, embedder, options, verifier: judge);
        _ = await Ask(cache, "stored");

        int served = 0;
        for (int i = 0; i < 150; i++)
        {
            served += IsHit(await Ask(cache, embedder.At(0.95f))) ? 1 : 0;
        }

        ChatResponse refused = await Ask(cache, embedder.At(0.6f));

        // Every text was judged until the bound was met (about 103), then served without asking.
        Assert.Equal(150, served);
        Assert.InRange(judge.Calls, 100, 110);
        Assert.False(IsHit(refused));
        Assert.Equal(2, _inner.Calls);
    }

    [Fact]
    public void The_judge_mode_without_a_verifier_is_refused()
    {
        SemanticCacheOptions options = new() { MaxErrorRate = 0.05f, AnswerEquivalence = SemanticAnswerEquivalence.Judge };
        ArgumentException error = Assert.Throws<ArgumentException>(() => new SemanticCacheChatClient(_inner, new LexicalEmbeddingGenerator(), options));
        Assert.Contains("Judge", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_verification_that_finds_the_stored_answer_wrong_keeps_that_entry_from_serving_at_or_below_it()
    {
        AngleEmbedder embedder = new();
        string? different = null;
        SemanticCacheChatClient cache = Cache(embedder, o =>
        {
            o.MaxErrorRate = 0.05f;
            o.VerificationRate = 1f;
        }, text => text == different ? "Something else." : "Use the reset link.");
        _ = await Ask(cache, "stored");
        await AskAtAsync(cache, embedder, 0.97f, times: 110);

        // The bound is met at 0.97 (every would-be hit is still verified here), and a verification at 0.99 finds another answer.
        Assert.True(cache.LearnedThreshold <= 0.97f);
        different = embedder.At(0.99f);
        Assert.False(IsHit(await Ask(cache, different)));

        // The entry now serves nothing at 0.99 or below: a query at 0.98 goes to the provider.
        int calls = _inner.Calls;
        Assert.False(IsHit(await Ask(cache, embedder.At(0.98f))));
        Assert.Equal(calls + 1, _inner.Calls);
    }

    [Fact]
    public async Task A_reported_wrong_hit_teaches_the_error_bounded_mode_too()
    {
        AngleEmbedder embedder = new();
        SemanticCacheChatClient cache = Cache(embedder, o =>
        {
            o.MaxErrorRate = 0.05f;
            o.VerificationRate = 0f;
        }, _ => "Use the reset link.");
        _ = await Ask(cache, "stored");
        await AskAtAsync(cache, embedder, 0.97f, times: 110);

        ChatResponse hit = await Ask(cache, embedder.At(0.99f));
        Assert.True(IsHit(hit));
        Assert.True(await cache.ReportWrongHitAsync(hit.GetCostReceipt()!.Id));

        int calls = _inner.Calls;
        Assert.False(IsHit(await Ask(cache, embedder.At(0.98f))));
        Assert.Equal(calls + 1, _inner.Calls);

        // One error in 111 is above the 5 % bound's reach with this little evidence: the threshold rises until more comes.
        Assert.True(cache.LearnedThreshold > 0.97f);
    }

    [Fact]
    public async Task Every_served_answer_in_a_stream_where_a_fifth_of_near_neighbours_differ_stays_within_the_bound()
    {
        // Queries at 0.90-0.99 from the stored question; below 0.93 one in two has another answer, above it all agree.
        AngleEmbedder embedder = new();
        Random random = new(7);
        Dictionary<string, string> answers = new(StringComparer.Ordinal);
        SemanticCacheChatClient cache = Cache(embedder, o => o.MaxErrorRate = 0.02f, text => answers.GetValueOrDefault(text, "right"));
        _ = await Ask(cache, "stored");
        int served = 0, wrong = 0;
        for (int i = 0; i < 3000; i++)
        {
            float similarity = 0.90f + (0.09f * random.NextSingle());
            string text = embedder.At(similarity);
            bool differs = similarity < 0.93f && random.Next(2) == 0;
            answers[text] = differs ? "wrong " + i : "right";
            ChatResponse response = await Ask(cache, text);
            if (IsHit(response))
            {
                served++;
                wrong += differs ? 1 : 0;
            }
        }

        Assert.True(served > 1000, $"served {served}");
        Assert.True((double)wrong / served <= 0.02, $"{wrong} wrong of {served}");
        Assert.InRange(cache.LearnedThreshold!.Value, 0.90f, 0.95f);
    }

    [Fact]
    public async Task An_entry_whose_answer_is_confirmed_earns_a_threshold_below_the_stages_own()
    {
        // Near entry 0, every text at 0.85 has entry 0's answer; near entry 1, one text in three at 0.97 does not have
        // entry 1's. No stage-wide threshold meets 5 %, but entry 0 earns its own.
        AngleEmbedder embedder = new();
        Dictionary<string, string> answers = new(StringComparer.Ordinal) { ["stored0"] = "zero", ["stored1"] = "one" };
        SemanticCacheChatClient cache = Cache(embedder, o =>
        {
            o.MaxErrorRate = 0.05f;
            o.VerificationRate = 0f;
        }, text => answers[text]);
        _ = await Ask(cache, "stored0");
        _ = await Ask(cache, "stored1");
        int servedNearZero = 0, servedNearOne = 0, wrongNearOne = 0;
        for (int i = 0; i < 400; i++)
        {
            string nearZero = embedder.At(0.85f, toward: 0);
            answers[nearZero] = "zero";
            servedNearZero += IsHit(await Ask(cache, nearZero)) && i >= 300 ? 1 : 0;

            string nearOne = embedder.At(0.97f, toward: 1);
            answers[nearOne] = i % 3 == 0 ? "another " + i : "one";
            ChatResponse response = await Ask(cache, nearOne);
            servedNearOne += IsHit(response) ? 1 : 0;
            wrongNearOne += IsHit(response) && i % 3 == 0 ? 1 : 0;
        }

        Assert.True(float.IsPositiveInfinity(cache.LearnedThreshold!.Value));
        Assert.Equal(100, servedNearZero);
        Assert.Equal(0, wrongNearOne);
        Assert.True(cache.Bound!.PolicyOpen(ErrorBound.EntryPolicies));
    }

    [Fact]
    public void The_fitted_threshold_always_meets_the_bound_on_what_it_saw()
    {
        Gen.Select(Gen.Float[0.5f, 1f], Gen.Bool).Array[0, 600].Select(Gen.Double[0.005, 0.2])
            .Sample((pairs, bound) =>
            {
                ErrorBound.Observation[] observations = [.. pairs.Select(p => new ErrorBound.Observation(p.Item1, p.Item2))];
                float threshold = ErrorBound.Fit(observations, bound);
                if (float.IsPositiveInfinity(threshold))
                {
                    return true;
                }

                ErrorBound.Observation[] above = [.. observations.Where(o => o.Similarity >= threshold)];
                return ErrorBound.UpperBound(above.Count(o => !o.Same), above.Length) <= bound;
            });
    }

    [Fact]
    public void The_upper_bound_lies_above_the_observed_rate_and_shrinks_with_evidence()
    {
        Gen.Int[1, 5000].SelectMany(n => Gen.Int[0, n].Select(w => (n, w))).Sample(t =>
        {
            double bound = ErrorBound.UpperBound(t.w, t.n);
            return bound >= (double)t.w / t.n && bound <= 1.0000001 && ErrorBound.UpperBound(t.w, t.n * 2) <= ErrorBound.UpperBound(t.w, t.n) + 1e-12;
        });
    }

    [Fact]
    public async Task A_reported_wrong_hit_takes_back_the_money_it_avoided_and_its_entry_stops_serving_that_far()
    {
        SemanticCacheChatClient cache = Cache(new LexicalEmbeddingGenerator(), o => o.SimilarityThreshold = 0.5f, _ => "Use the reset link.");
        _ = await Ask(cache, "How do I reset my password?");
        ChatResponse hit = await Ask(cache, "How can I reset the password of my account?");
        Assert.True(IsHit(hit));
        CostReceipt receipt = hit.GetCostReceipt()!;
        Assert.True(receipt.Avoided > 0m);

        Assert.True(await cache.ReportWrongHitAsync(receipt.Id));
        Assert.False(await cache.ReportWrongHitAsync(receipt.Id));
        Assert.False(await cache.ReportWrongHitAsync(Guid.NewGuid()));

        decimal avoided = 0m;
        await foreach (CostLedgerRecord record in _ledger.QueryAsync(CostLedgerQuery.All))
        {
            avoided += record.Entry.CostAvoided ?? 0m;
        }

        Assert.Equal(0m, avoided);
        int calls = _inner.Calls;
        Assert.False(IsHit(await Ask(cache, "How can I reset the password of my account?")));
        Assert.Equal(calls + 1, _inner.Calls);
    }

    [Fact]
    public async Task What_an_entry_learned_survives_a_snapshot()
    {
        SemanticCacheChatClient cache = Cache(new LexicalEmbeddingGenerator(), o => o.SimilarityThreshold = 0.5f, _ => "Use the reset link.");
        _ = await Ask(cache, "How do I reset my password?");
        ChatResponse hit = await Ask(cache, "How can I reset the password of my account?");
        Assert.True(await cache.ReportWrongHitAsync(hit.GetCostReceipt()!.Id));
        using MemoryStream snapshot = new();
        _ = await cache.SaveSnapshotAsync(snapshot);

        SemanticCacheChatClient restored = Cache(new LexicalEmbeddingGenerator(), o => o.SimilarityThreshold = 0.5f, _ => "Use the reset link.");
        Assert.Equal(1, await restored.RestoreSnapshotAsync(new MemoryStream(snapshot.ToArray())));
        int calls = _inner.Calls;

        Assert.True(IsHit(await Ask(restored, "How do I reset my password")));
        Assert.False(IsHit(await Ask(restored, "How can I reset the password of my account?")));
        Assert.Equal(calls + 1, _inner.Calls);
    }

    [Fact]
    public async Task A_report_whose_ledger_fails_or_that_is_cancelled_first_loses_nothing()
    {
        FailingLedger ledger = new();
        _inner.GetResponseAsyncCallback = (_, _, _) => Task.FromResult(Answer("Use the reset link."));
        using SemanticCacheChatClient cache = new(_inner, new LexicalEmbeddingGenerator(), new SemanticCacheOptions { SimilarityThreshold = 0.5f }, ledger: ledger);
        _ = await Ask(cache, "How do I reset my password?");
        ChatResponse hit = await Ask(cache, "How can I reset the password of my account?");
        Guid receipt = hit.GetCostReceipt()!.Id;

        // Cancelled before it is taken: nothing happens, and the report can be made again.
        _ = await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await cache.ReportWrongHitAsync(receipt, new CancellationToken(canceled: true)));
        Assert.True(IsHit(await Ask(cache, "How can I reset the password of my account?")));

        // A failing ledger is tried once (not with the caller's token) and logged; the entry still stops.
        ledger.Fail = true;
        Assert.True(await cache.ReportWrongHitAsync(receipt));
        Assert.Equal(1, ledger.Failures);
        Assert.False(IsHit(await Ask(cache, "How can I reset the password of my account?")));
    }

    [Theory]
    [InlineData("How do I reset my password?", "how do i reset my password", true)]
    [InlineData("What's AI?", "  whats   AI ", true)]
    [InlineData("What is the purpose of life ?", "What is the purpose of life?", true)]
    [InlineData("What is 2+2?", "What is 2-2?", false)]
    [InlineData("Is 2.5 more than 25?", "Is 25 more than 25?", false)]
    [InlineData("What is the difference between # and ## in python?", "What is the difference between () and (,) in Python?", false)]
    [InlineData("What does this symbol mean?", "What does this symbol mean @?", false)]
    [InlineData("Reset my password", "Reset my passwords", false)]
    [InlineData("", "?", true)]
    public void The_near_exact_tier_ignores_case_spacing_and_end_marks_only(string a, string b, bool same)
    {
        Assert.Equal(same, AnswerText.SameRequest(a, b));
        Assert.Equal(same, AnswerText.SameRequest(b, a));
    }

    [Fact]
    public async Task A_near_exact_request_is_a_hit_whatever_the_threshold_and_says_so()
    {
        SemanticCacheChatClient cache = Cache(new LexicalEmbeddingGenerator(), o => o.SimilarityThreshold = 1f, _ => "Use the reset link.");
        _ = await Ask(cache, "How do I reset my password?");

        ChatResponse hit = await Ask(cache, "how do I reset my password");
        ChatResponse miss = await Ask(cache, "How do I reset my passport?");

        Assert.Equal("near-exact", hit.AdditionalProperties![CostAwareProperties.CacheHit]);
        Assert.Equal(1f, hit.AdditionalProperties[CostAwareProperties.SemanticThreshold]);
        Assert.False(IsHit(miss));
        Assert.Equal(2, _inner.Calls);
    }

    [Fact]
    public async Task A_local_embedder_outside_the_catalog_costs_nothing_and_leaves_the_receipt_fully_priced()
    {
        AngleEmbedder embedder = new() { Local = true };
        SemanticCacheChatClient cache = Cache(embedder, o => o.SimilarityThreshold = 0.9f, _ => "Use the reset link.");

        ChatResponse miss = await Ask(cache, "stored");
        ChatResponse hit = await Ask(cache, embedder.At(0.95f));

        foreach (ChatResponse response in (ChatResponse[])[miss, hit])
        {
            CostReceipt receipt = response.GetCostReceipt()!;
            CostReceiptEntry embedding = Assert.Single(receipt.Entries, e => e.Kind == CostEntryKind.Embedding);
            Assert.Equal(0m, embedding.Cost?.Total);
            Assert.True(receipt.IsFullyPriced);
        }
    }

    [Fact]
    public void The_lexical_embedder_is_named_at_start_with_the_way_to_a_real_one()
    {
        using Microsoft.Extensions.Logging.Testing.FakeLoggerProvider provider = new();
        using Microsoft.Extensions.Logging.ILoggerFactory factory = Microsoft.Extensions.Logging.LoggerFactory.Create(b => b.AddProvider(provider));

        using SemanticCacheChatClient lexical = new(_inner, new LexicalEmbeddingGenerator(), loggerFactory: factory);
        using SemanticCacheChatClient real = new(_inner, new AngleEmbedder { Local = true }, loggerFactory: factory);

        Microsoft.Extensions.Logging.Testing.FakeLogRecord record = Assert.Single(provider.Collector.GetSnapshot(), r => r.Id.Id == 82);
        Assert.Contains("AddCostAwareMiniLMEmbeddingGenerator", record.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Bad_error_bounded_options_are_refused()
    {
        foreach (Action<SemanticCacheOptions> bad in (Action<SemanticCacheOptions>[])[o => o.MaxErrorRate = 0f, o => o.MaxErrorRate = 0.6f, o => o.VerificationRate = 1.5f, o => o.MinimumSimilarity = 2f])
        {
            SemanticCacheOptions options = new();
            bad(options);
            _ = Assert.Throws<OptionsValidationException>(() => new SemanticCacheChatClient(_inner, new LexicalEmbeddingGenerator(), options));
        }
    }

    private sealed class FailingLedger : ICostLedger
    {
        public bool Fail { get; set; }

        public int Failures { get; private set; }

        public ValueTask RecordAsync(CostReceipt receipt, CancellationToken cancellationToken = default)
        {
            if (!Fail)
            {
                return ValueTask.CompletedTask;
            }

            Failures++;
            return ValueTask.FromException(new IOException("the ledger's database is down"));
        }

        public IAsyncEnumerable<CostLedgerRecord> QueryAsync(CostLedgerQuery query, CancellationToken cancellationToken = default) =>
            AsyncEnumerable.Empty<CostLedgerRecord>();
    }

    private sealed class ScriptedJudge(Func<SemanticHitCandidate, bool> verdict) : ISemanticHitVerifier
    {
        public int Calls;

        public ValueTask<bool> VerifyAsync(SemanticHitCandidate candidate, CancellationToken cancellationToken = default)
        {
            _ = Interlocked.Increment(ref Calls);
            return ValueTask.FromResult(verdict(candidate));
        }
    }

    // "stored" is the unit vector e0; At(s) is a fresh text whose vector has cosine s with e0 and points, apart from e0,
    // along a direction of its own (so queries are far from each other).
    private sealed class AngleEmbedder : IEmbeddingGenerator<string, Embedding<float>>
    {
        private const int Dimensions = 4096;
        private readonly Dictionary<string, float[]> _vectors = new(StringComparer.Ordinal);
        private int _next;

        public bool Local { get; init; }

        public string At(float similarity, int toward = 0)
        {
            int axis = Interlocked.Increment(ref _next) + 8;
            float[] v = new float[Dimensions];
            v[toward] = similarity;
            v[axis] = MathF.Sqrt(1 - (similarity * similarity));
            string text = $"query {axis} at {similarity:F3}";
            _vectors[text] = v;
            return text;
        }

        public Task<GeneratedEmbeddings<Embedding<float>>> GenerateAsync(IEnumerable<string> values, EmbeddingGenerationOptions? options = null, CancellationToken cancellationToken = default)
        {
            GeneratedEmbeddings<Embedding<float>> result = [.. values.Select(v => new Embedding<float>(Vector(v)) { ModelId = "angles-4096" })];
            result.Usage = new UsageDetails { InputTokenCount = 8 };
            return Task.FromResult(result);
        }

        public object? GetService(Type serviceType, object? serviceKey = null) =>
            serviceType == typeof(EmbeddingGeneratorMetadata) && Local ? new EmbeddingGeneratorMetadata("onnxruntime", new Uri("onnxruntime:cpu"), "angles-4096", Dimensions) : null;

        public void Dispose()
        {
        }

        private float[] Vector(string text)
        {
            if (_vectors.TryGetValue(text, out float[]? v))
            {
                return v;
            }

            // "stored" and "stored0" are e0, "stored1" is e1, and so on.
            float[] stored = new float[Dimensions];
            stored[text.StartsWith("stored", StringComparison.Ordinal) && text.Length > 6 ? text[6] - '0' : 0] = 1f;
            return stored;
        }
    }
}

public sealed class SemanticCacheCalibrationTests
{
    private static readonly SemanticCalibrationPair[] Pairs =
    [
        new("How do I reset my password?", "how can I reset my password", true),
        new("How do I reset my password?", "I forgot my password, how do I reset it?", true),
        new("What is the capital of France?", "Which city is the capital of France?", true),
        new("How long does shipping take?", "How many days does shipping take?", true),
        new("Is the product safe for kids?", "Is the product not safe for kids?", false),
        new("Book a table for 2 people", "Book a table for 3 people", false),
        new("What is the capital of France?", "What is the capital of Spain?", false),
        new("How do I delete my account?", "How do I create my account?", false),
    ];

    [Fact]
    public async Task A_reachable_target_gives_a_threshold_whose_served_pairs_meet_it_and_the_curve()
    {
        SemanticCalibrationResult result = await SemanticCacheCalibration.CalibrateAsync(
            Enumerable.Repeat(Pairs, 40).SelectMany(p => p), new LexicalEmbeddingGenerator(), 0.9);

        Assert.True(result.TargetMet);
        Assert.Equal(320, result.Pairs);
        SemanticCalibrationPoint chosen = Assert.Single(result.Curve, p => p.Threshold == result.Threshold!.Value);
        Assert.True(chosen.PrecisionLowerBound >= 0.9);
        Assert.True(result.Recall > 0);
        Assert.Equal(result.Guards, chosen.Guards);
        Assert.True(result.Curve.Zip(result.Curve.Skip(1)).All(p => p.First.Threshold > p.Second.Threshold && p.First.Served <= p.Second.Served));
    }

    [Fact]
    public async Task An_unreachable_target_says_so_and_still_gives_the_curve()
    {
        SemanticCalibrationResult result = await SemanticCacheCalibration.CalibrateAsync(Pairs, new LexicalEmbeddingGenerator(), 0.999);

        Assert.False(result.TargetMet);
        Assert.Null(result.Threshold);
        Assert.NotEmpty(result.Curve);
    }

    [Fact]
    public async Task Bad_input_is_refused_with_the_reason()
    {
        _ = await Assert.ThrowsAsync<ArgumentException>(() => SemanticCacheCalibration.CalibrateAsync([], new LexicalEmbeddingGenerator(), 0.9));
        _ = await Assert.ThrowsAsync<ArgumentException>(() => SemanticCacheCalibration.CalibrateAsync([new("a", "b", false)], new LexicalEmbeddingGenerator(), 0.9));
        _ = await Assert.ThrowsAsync<ArgumentException>(() => SemanticCacheCalibration.CalibrateAsync(Pairs, new LexicalEmbeddingGenerator(), 1.0));
        _ = await Assert.ThrowsAsync<ArgumentNullException>(() => SemanticCacheCalibration.CalibrateAsync([new("a", null!, true)], new LexicalEmbeddingGenerator(), 0.9));
    }
}

using CostAware.Tests.TestUtilities;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Time.Testing;

namespace CostAware.SemanticCache.Tests.Caching;

public sealed class SemanticCacheChatClientTests : IDisposable
{
    // gpt-4o: 1,000 input x $2.50 + 200 output x $10 per million = $0.0045.
    private const decimal AnswerCost = 0.0045m;

    private readonly TestChatClient _inner = new();
    private readonly InMemoryCostLedger _ledger = new();
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 11, 23, 12, 0, 0, TimeSpan.Zero));
    private readonly List<IDisposable> _disposables = [];
    private int _answers;

    public void Dispose()
    {
        foreach (IDisposable d in _disposables)
        {
            d.Dispose();
        }
    }

    private ChatResponse Answer(ChatFinishReason? finish = null, string? text = null) =>
        new(new ChatMessage(ChatRole.Assistant, text ?? $"answer {Interlocked.Increment(ref _answers)}"))
        {
            ModelId = "gpt-4o-2024-08-06",
            FinishReason = finish ?? ChatFinishReason.Stop,
            Usage = new UsageDetails { InputTokenCount = 1_000, OutputTokenCount = 200 },
        };

    private SemanticCacheChatClient Cache(
        Action<SemanticCacheOptions>? configure = null,
        IEmbeddingGenerator<string, Embedding<float>>? embedder = null,
        ISemanticHitVerifier? verifier = null)
    {
        _inner.GetResponseAsyncCallback ??= (_, _, _) => Task.FromResult(Answer());
        _inner.GetStreamingResponseAsyncCallback ??= (_, _, ct) => TestChatClient.Yield(Answer().ToChatResponseUpdates(), cancellationToken: ct);
        SemanticCacheOptions options = new();
        configure?.Invoke(options);
        SemanticCacheChatClient cache = new(_inner, embedder ?? new LexicalEmbeddingGenerator(), options, store: null, verifier, ledger: _ledger, timeProvider: _time);
        _disposables.Add(cache);
        return cache;
    }

    private static ChatOptions Tenant(string? tenant) => new ChatOptions().WithCostScope(new CostScope { Tenant = tenant });

    private static Task<ChatResponse> Ask(IChatClient client, string text, ChatOptions? options = null) =>
        client.GetResponseAsync([new ChatMessage(ChatRole.User, text)], options ?? Tenant("acme"));

    [Fact]
    public async Task A_paraphrase_is_answered_from_the_cache_with_its_similarity_and_the_money_it_saved()
    {
        SemanticCacheChatClient cache = Cache(o => o.SimilarityThreshold = 0.6f);

        ChatResponse first = await Ask(cache, "How do I reset my password?");
        ChatResponse second = await Ask(cache, "how do i reset my password");

        Assert.Equal(1, _inner.Calls);
        Assert.Equal(first.Text, second.Text);
        float similarity = Assert.IsType<float>(second.AdditionalProperties![CostAwareProperties.SemanticSimilarity]);
        Assert.InRange(similarity, 0.6f, 1f);
        CostReceipt receipt = second.GetCostReceipt()!;
        Assert.Equal([CostEntryKind.Embedding, CostEntryKind.CacheHit], receipt.Entries.Select(e => e.Kind));
        Assert.Equal(AnswerCost, receipt.Avoided);
        Assert.Equal(0m, receipt.Spent);

        // One ledger record per receipt entry: the miss's embedding, then the hit's embedding and cache hit.
        Assert.Equal(3, _ledger.Count);
    }

    [Fact]
    public async Task A_different_question_is_a_miss()
    {
        SemanticCacheChatClient cache = Cache();
        await Ask(cache, "How do I reset my password?");
        await Ask(cache, "What is the capital of France?");
        Assert.Equal(2, _inner.Calls);
    }

    [Theory]
    [InlineData("acme", "globex")]
    [InlineData("acme", "ACME")]
    [InlineData("acme", null)]
    [InlineData(null, "")]
    [InlineData("t", "s")]
    public async Task One_tenant_never_receives_another_tenants_answer(string? owner, string? probe)
    {
        SemanticCacheChatClient cache = Cache(o => o.SimilarityThreshold = -1f);
        await Ask(cache, "What is our refund policy?", Tenant(owner));

        // The very same text, with every guard off and the lowest threshold: still a miss across tenants.
        ChatResponse answer = await Ask(cache, "What is our refund policy?", Tenant(probe));

        Assert.Equal(2, _inner.Calls);
        Assert.False(answer.AdditionalProperties!.ContainsKey(CostAwareProperties.SemanticSimilarity));
    }

    [Fact]
    public async Task A_shared_partition_is_shared_only_when_listed()
    {
        SemanticCacheChatClient cache = Cache(o => o.SharedPartitions.Add("faq"));
        ChatOptions Shared(string tenant) => Tenant(tenant).WithCacheControl(new CacheControl { SharedPartition = "faq" });

        await Ask(cache, "What are your opening hours?", Shared("acme"));
        await Ask(cache, "What are your opening hours?", Shared("globex"));
        Assert.Equal(1, _inner.Calls);

        // The tenant's own partition does not see the shared entry, and an unlisted name is refused before any call.
        await Ask(cache, "What are your opening hours?", Tenant("globex"));
        Assert.Equal(2, _inner.Calls);
        await Assert.ThrowsAsync<ArgumentException>(() => Ask(cache, "x", Tenant("acme").WithCacheControl(new CacheControl { SharedPartition = "other" })));
        Assert.Equal(2, _inner.Calls);
    }

    public static TheoryData<string, Func<ChatOptions, ChatOptions>> PartitionChanges => new()
    {
        { "model", o => { o.ModelId = "gpt-4o-mini"; return o; } },
        { "instructions", o => { o.Instructions = "Answer in French."; return o; } },
        { "temperature", o => { o.Temperature = 0.9f; return o; } },
        { "max tokens", o => { o.MaxOutputTokens = 10; return o; } },
        { "response format", o => { o.ResponseFormat = ChatResponseFormat.Json; return o; } },
        { "tools", o => { o.Tools = [AIFunctionFactory.Create(() => 42, "answer")]; return o; } },
    };

    [Theory]
    [MemberData(nameof(PartitionChanges))]
    public async Task Whatever_changes_the_answer_other_than_the_users_text_is_matched_exactly(string what, Func<ChatOptions, ChatOptions> change)
    {
        _ = what;
        SemanticCacheChatClient cache = Cache();
        await Ask(cache, "Summarise the plot of Hamlet.");
        await Ask(cache, "Summarise the plot of Hamlet.", change(Tenant("acme")));
        Assert.Equal(2, _inner.Calls);
    }

    [Fact]
    public async Task A_different_system_message_is_a_different_partition()
    {
        SemanticCacheChatClient cache = Cache();
        await cache.GetResponseAsync([new(ChatRole.System, "You are terse."), new(ChatRole.User, "Explain recursion.")], Tenant("acme"));
        await cache.GetResponseAsync([new(ChatRole.System, "You are verbose."), new(ChatRole.User, "Explain recursion.")], Tenant("acme"));
        await cache.GetResponseAsync([new(ChatRole.System, "You are terse."), new(ChatRole.User, "Explain recursion.")], Tenant("acme"));
        Assert.Equal(2, _inner.Calls);
    }

    [Fact]
    public async Task By_default_only_a_first_user_turn_is_matched()
    {
        SemanticCacheChatClient cache = Cache();
        ChatMessage[] followUp = [new(ChatRole.User, "Explain recursion."), new(ChatRole.Assistant, "It calls itself."), new(ChatRole.User, "And in French?")];
        await cache.GetResponseAsync(followUp, Tenant("acme"));
        await cache.GetResponseAsync(followUp, Tenant("acme"));
        Assert.Equal(2, _inner.Calls);
        Assert.Equal(0, cache.Count);
    }

    [Fact]
    public async Task The_last_turn_scope_reuses_a_follow_up_only_after_the_same_earlier_turns()
    {
        SemanticCacheChatClient cache = Cache(o => o.MatchScope = SemanticMatchScope.LastUserTurn);
        ChatMessage[] Conversation(string first) => [new(ChatRole.User, first), new(ChatRole.Assistant, "Done."), new(ChatRole.User, "And in French?")];

        await cache.GetResponseAsync(Conversation("Explain recursion."), Tenant("acme"));
        await cache.GetResponseAsync(Conversation("Explain recursion."), Tenant("acme"));
        Assert.Equal(1, _inner.Calls);
        await cache.GetResponseAsync(Conversation("Explain closures."), Tenant("acme"));
        Assert.Equal(2, _inner.Calls);
    }

    [Theory]
    [InlineData(SemanticGuards.Numbers, "How many days are there in 2 weeks?", "How many days are there in 3 weeks?")]
    [InlineData(SemanticGuards.Numbers, "Convert 100 dollars to euros", "Convert 1000 dollars to euros")]
    [InlineData(SemanticGuards.Dates, "What is the weather forecast for Monday in Paris?", "What is the weather forecast for Tuesday in Paris?")]
    [InlineData(SemanticGuards.Dates, "Who won the world cup in 2018?", "Who won the world cup in 2022?")]
    [InlineData(SemanticGuards.Negations, "Which foods are safe for dogs to eat?", "Which foods are not safe for dogs to eat?")]
    [InlineData(SemanticGuards.Negations, "Can I take ibuprofen with alcohol?", "Can't I take ibuprofen with alcohol?")]
    [InlineData(SemanticGuards.Entities, "How do I install packages for Python on Ubuntu?", "How do I install packages for Ruby on Ubuntu?")]
    [InlineData(SemanticGuards.Entities, "What is the population of Austria?", "What is the population of Australia?")]
    public async Task A_guard_vetoes_a_near_match_that_differs_where_it_matters(SemanticGuards guard, string stored, string query)
    {
        SemanticCacheChatClient guarded = Cache(o => { o.SimilarityThreshold = 0.3f; o.Guards = guard; });
        await Ask(guarded, stored);
        await Ask(guarded, query);
        Assert.Equal(2, _inner.Calls);

        // The same pair without the guard: the similarity alone would have served the wrong answer.
        SemanticCacheChatClient unguarded = Cache(o => { o.SimilarityThreshold = 0.3f; o.Guards = SemanticGuards.None; });
        await Ask(unguarded, stored);
        ChatResponse wrong = await Ask(unguarded, query);
        Assert.Equal(3, _inner.Calls);
        Assert.True(wrong.AdditionalProperties!.ContainsKey(CostAwareProperties.SemanticSimilarity));
    }

    [Fact]
    public async Task Guards_let_through_what_agrees_in_numbers_dates_negation_and_names()
    {
        SemanticCacheChatClient cache = Cache(o => o.SimilarityThreshold = 0.5f);
        await Ask(cache, "Is it not true that Paris had 2 million people in 2020?");
        await Ask(cache, "is it not true that paris had two million people in 2020");
        Assert.Equal(1, _inner.Calls);
    }

    [Fact]
    public async Task The_lexical_floor_vetoes_a_match_with_too_few_words_in_common()
    {
        SemanticCacheChatClient cache = Cache(o => { o.SimilarityThreshold = -1f; o.Guards = SemanticGuards.None; o.MinimumLexicalOverlap = 0.5f; });
        await Ask(cache, "best laptop for programming students");
        await Ask(cache, "cheap flights to tokyo in spring");
        await Ask(cache, "best laptop for programming students?");
        Assert.Equal(2, _inner.Calls);
    }

    [Fact]
    public async Task A_request_threshold_overrides_the_stage_and_is_checked()
    {
        SemanticCacheChatClient cache = Cache(o => o.SimilarityThreshold = 0.3f);
        await Ask(cache, "How do I reset my password?");
        await Ask(cache, "How can I reset the password?", Tenant("acme").WithCacheControl(new CacheControl { SimilarityThreshold = 0.999f }));
        Assert.Equal(2, _inner.Calls);
        await Assert.ThrowsAsync<ArgumentException>(() => Ask(cache, "x", Tenant("acme").WithCacheControl(new CacheControl { SimilarityThreshold = 1.5f })));
    }

    [Fact]
    public async Task A_partition_threshold_applies_to_its_tenant_only()
    {
        SemanticCacheChatClient cache = Cache(o => { o.SimilarityThreshold = 0.3f; o.PartitionThresholds["strict"] = 0.999f; });
        foreach (string tenant in new[] { "strict", "relaxed" })
        {
            await Ask(cache, "How do I reset my password?", Tenant(tenant));
            await Ask(cache, "How can I reset the password?", Tenant(tenant));
        }

        Assert.Equal(3, _inner.Calls);
    }

    [Fact]
    public async Task No_store_no_cache_and_bypass_do_what_they_say()
    {
        SemanticCacheChatClient cache = Cache();
        await Ask(cache, "Explain recursion.", Tenant("acme").WithCacheControl(CacheControl.NoStore));
        Assert.Equal(0, cache.Count);
        await Ask(cache, "Explain recursion.");
        await Ask(cache, "Explain recursion.", Tenant("acme").WithCacheControl(CacheControl.NoCache));
        Assert.Equal(3, _inner.Calls);
        Assert.Equal(2, cache.Count);
        await Ask(cache, "Explain recursion.", Tenant("acme").WithCacheControl(CacheControl.Bypass));
        Assert.Equal(4, _inner.Calls);
        await Ask(cache, "Explain recursion.");
        Assert.Equal(4, _inner.Calls);
    }

    [Fact]
    public async Task An_entry_expires_after_its_time_to_live()
    {
        SemanticCacheChatClient cache = Cache(o => o.TimeToLive = TimeSpan.FromHours(1));
        await Ask(cache, "Explain recursion.");
        await Ask(cache, "Explain closures.", Tenant("acme").WithCacheControl(new CacheControl { TimeToLive = TimeSpan.FromMinutes(5) }));

        _time.Advance(TimeSpan.FromMinutes(6));
        await Ask(cache, "Explain recursion.");
        await Ask(cache, "Explain closures.");
        Assert.Equal(3, _inner.Calls);

        _time.Advance(TimeSpan.FromHours(1));
        await Ask(cache, "Explain recursion.");
        Assert.Equal(4, _inner.Calls);
    }

    [Fact]
    public async Task Memory_is_bounded_and_the_least_recently_used_entry_goes_first()
    {
        SemanticCacheChatClient cache = Cache(o => o.MaxEntries = 2);
        await Ask(cache, "Explain recursion.");
        await Ask(cache, "Explain closures.");
        await Ask(cache, "Explain recursion.");   // a hit: recursion is now the most recently used
        await Ask(cache, "Explain monads.");      // evicts closures
        Assert.Equal(3, _inner.Calls);
        Assert.Equal(2, cache.Count);

        await Ask(cache, "Explain recursion.");
        Assert.Equal(3, _inner.Calls);
        await Ask(cache, "Explain closures.");
        Assert.Equal(4, _inner.Calls);
    }

    public static TheoryData<string> NotStorable => ["length", "content_filter", "tool_calls", "error"];

    [Theory]
    [MemberData(nameof(NotStorable))]
    public async Task A_bad_answer_is_never_stored(string kind)
    {
        _inner.GetResponseAsyncCallback = (_, _, _) => Task.FromResult(kind switch
        {
            "length" => Answer(ChatFinishReason.Length),
            "content_filter" => Answer(ChatFinishReason.ContentFilter),
            "tool_calls" => new ChatResponse(new ChatMessage(ChatRole.Assistant, [new FunctionCallContent("c1", "lookup")])) { FinishReason = ChatFinishReason.ToolCalls },
            _ => new ChatResponse(new ChatMessage(ChatRole.Assistant, [new ErrorContent("upstream failed")])),
        });
        SemanticCacheChatClient cache = Cache();
        await Ask(cache, "Explain recursion.");
        await Ask(cache, "Explain recursion.");
        Assert.Equal(2, _inner.Calls);
        Assert.Equal(0, cache.Count);
    }

    [Fact]
    public async Task A_failed_call_stores_nothing_and_still_records_its_receipt()
    {
        _inner.GetResponseAsyncCallback = (_, _, _) => throw new HttpRequestException("503");
        SemanticCacheChatClient cache = Cache();
        await Assert.ThrowsAsync<HttpRequestException>(() => Ask(cache, "Explain recursion."));
        Assert.Equal(0, cache.Count);
        Assert.Equal(1, _ledger.Count);
    }

    [Fact]
    public async Task Streaming_works_both_ways_and_an_abandoned_stream_is_not_stored()
    {
        _inner.GetStreamingResponseAsyncCallback = (_, _, ct) => TestChatClient.Yield(
            [new ChatResponseUpdate(ChatRole.Assistant, "It calls "), new ChatResponseUpdate(ChatRole.Assistant, "itself.") { FinishReason = ChatFinishReason.Stop }],
            cancellationToken: ct);
        SemanticCacheChatClient cache = Cache();

        // Abandoned after the first update: nothing stored.
        await foreach (ChatResponseUpdate update in cache.GetStreamingResponseAsync([new(ChatRole.User, "Explain recursion.")], Tenant("acme")))
        {
            break;
        }

        Assert.Equal(0, cache.Count);

        List<ChatResponseUpdate> miss = await cache.GetStreamingResponseAsync([new(ChatRole.User, "Explain recursion.")], Tenant("acme")).ToListAsync();
        Assert.Equal("It calls itself.", miss.ToChatResponse().Text);
        Assert.Equal(1, cache.Count);

        // A streamed entry serves a non-streamed call, and the other way round.
        ChatResponse hit = await Ask(cache, "explain recursion");
        Assert.Equal("It calls itself.", hit.Text);
        List<ChatResponseUpdate> streamedHit = await cache.GetStreamingResponseAsync([new(ChatRole.User, "Explain recursion!")], Tenant("acme")).ToListAsync();
        Assert.Equal("It calls itself.", streamedHit.ToChatResponse().Text);
        Assert.NotNull(streamedHit[^1].GetCostReceipt());
        Assert.True(streamedHit[^1].AdditionalProperties!.ContainsKey(CostAwareProperties.SemanticSimilarity));
        Assert.Equal(2, _inner.Calls);

        await Ask(cache, "What is a closure?");
        List<ChatResponseUpdate> streamedFromPlain = await cache.GetStreamingResponseAsync([new(ChatRole.User, "what is a closure")], Tenant("acme")).ToListAsync();
        Assert.StartsWith("answer", streamedFromPlain.ToChatResponse().Text, StringComparison.Ordinal);
        Assert.Equal(3, _inner.Calls);
    }

    [Fact]
    public async Task A_paid_embedding_is_on_the_receipt_and_the_saving_is_net_of_it()
    {
        // text-embedding-3-small: $0.02 per million input tokens; 500 tokens = $0.00001.
        PricedEmbedder embedder = new();
        SemanticCacheChatClient cache = Cache(embedder: embedder);
        await Ask(cache, "Explain recursion.");
        ChatResponse hit = await Ask(cache, "Explain recursion.");

        CostReceipt receipt = hit.GetCostReceipt()!;
        CostReceiptEntry embedding = Assert.Single(receipt.Entries, e => e.Kind == CostEntryKind.Embedding);
        Assert.Equal(500, embedding.Tokens.Input);
        Assert.Equal(0.00001m, embedding.Cost!.Value.Total);
        Assert.Equal(0.00001m, receipt.Spent);
        Assert.Equal(AnswerCost, receipt.Avoided);
        Assert.Equal(AnswerCost - 0.00001m, receipt.Avoided - receipt.Spent);
    }

    [Fact]
    public async Task A_verifier_can_reject_a_hit_in_the_partitions_it_guards()
    {
        RejectingVerifier verifier = new();
        SemanticCacheChatClient cache = Cache(o => o.VerifiedPartitions.Add("bank"), verifier: verifier);
        foreach (string tenant in new[] { "bank", "shop" })
        {
            await Ask(cache, "Explain recursion.", Tenant(tenant));
            await Ask(cache, "Explain recursion.", Tenant(tenant));
        }

        Assert.Equal(3, _inner.Calls);
        Assert.Equal(1, verifier.Calls);
    }

    [Fact]
    public async Task The_judge_verifier_asks_a_model_and_puts_its_cost_on_the_receipt()
    {
        TestChatClient judgeModel = new()
        {
            GetResponseAsyncCallback = (_, _, _) => Task.FromResult(new ChatResponse(new ChatMessage(ChatRole.Assistant, "Yes.")) { ModelId = "gpt-4o-mini", Usage = new UsageDetails { InputTokenCount = 100, OutputTokenCount = 1 } }),
        };
        using IChatClient judge = new ChatClientBuilder(judgeModel).UseTokenMetering().Build();
        SemanticCacheChatClient cache = Cache(o => o.SimilarityThreshold = 0.5f, verifier: new ChatClientSemanticHitVerifier(judge));
        await Ask(cache, "Explain recursion.");
        ChatResponse hit = await Ask(cache, "Explain recursion please.");

        Assert.Equal(1, _inner.Calls);
        CostReceipt receipt = hit.GetCostReceipt()!;
        CostReceiptEntry judged = Assert.Single(receipt.Entries, e => e.Kind == CostEntryKind.ProviderCall);
        Assert.Equal("gpt-4o-mini", judged.ModelId);
        Assert.Equal(receipt.Spent, judged.Cost!.Value.Total);
    }

    [Fact]
    public async Task A_snapshot_restores_every_entry_and_a_damaged_one_is_rejected_whole()
    {
        SemanticCacheChatClient cache = Cache();
        await Ask(cache, "Explain recursion.");
        await Ask(cache, "Explain closures.", Tenant("globex"));
        using MemoryStream snapshot = new();
        Assert.Equal(2, await cache.SaveSnapshotAsync(snapshot));
        byte[] bytes = snapshot.ToArray();

        SemanticCacheChatClient restored = Cache();
        Assert.Equal(2, await restored.RestoreSnapshotAsync(new MemoryStream(bytes)));
        await Ask(restored, "Explain recursion.");
        await Ask(restored, "Explain closures.", Tenant("globex"));
        await Ask(restored, "Explain closures.", Tenant("acme"));
        Assert.Equal(3, _inner.Calls);

        // Truncated anywhere, or one byte flipped anywhere: rejected, and the entries in place stay.
        for (int cut = 0; cut < bytes.Length; cut += Math.Max(1, bytes.Length / 97))
        {
            await Assert.ThrowsAsync<InvalidDataException>(() => restored.RestoreSnapshotAsync(new MemoryStream(bytes[..cut])));
        }

        for (int at = 0; at < bytes.Length; at += Math.Max(1, bytes.Length / 97))
        {
            byte[] damaged = (byte[])bytes.Clone();
            damaged[at] ^= 0x20;
            await Assert.ThrowsAsync<InvalidDataException>(() => restored.RestoreSnapshotAsync(new MemoryStream(damaged)));
        }

        Assert.Equal(3, restored.Count);
    }

    [Fact]
    public async Task Invalidating_a_tenant_removes_only_its_entries()
    {
        SemanticCacheChatClient cache = Cache();
        await Ask(cache, "Explain recursion.", Tenant("acme"));
        await Ask(cache, "Explain recursion.", Tenant("globex"));
        await cache.InvalidateTenantAsync("acme");
        Assert.Equal(1, cache.Count);
        await cache.InvalidateAllAsync();
        Assert.Equal(0, cache.Count);
    }

    [Fact]
    public async Task An_embedder_that_changes_dimensions_is_answered_by_the_provider_like_an_embedder_failure()
    {
        SwitchingEmbedder embedder = new();
        SemanticCacheChatClient cache = Cache(embedder: embedder);
        await Ask(cache, "Explain recursion.");
        embedder.Dimensions = 8;

        // The call is answered (by the provider), nothing is stored under the new vector; the cache does not throw.
        await Ask(cache, "Explain recursion.");
        await Ask(cache, "Explain recursion, please.");
        Assert.Equal(3, _inner.Calls);
        Assert.Equal(1, cache.Count);

        await cache.InvalidateAllAsync();
        await Ask(cache, "Explain recursion.");
        Assert.Equal(1, cache.Count);
    }

    [Fact]
    public async Task A_text_that_embeds_to_nothing_passes_through()
    {
        SwitchingEmbedder embedder = new() { Zero = true };
        SemanticCacheChatClient cache = Cache(embedder: embedder);
        await Ask(cache, "Explain recursion.");
        await Ask(cache, "Explain recursion.");
        Assert.Equal(2, _inner.Calls);
        Assert.Equal(0, cache.Count);
    }

    [Fact]
    public async Task A_failing_embedder_never_fails_the_call()
    {
        SwitchingEmbedder embedder = new() { Fail = true };
        SemanticCacheChatClient cache = Cache(embedder: embedder);
        ChatResponse answer = await Ask(cache, "Explain recursion.");
        List<ChatResponseUpdate> streamed = await cache.GetStreamingResponseAsync([new(ChatRole.User, "Explain recursion.")], Tenant("acme")).ToListAsync();

        Assert.StartsWith("answer", answer.Text, StringComparison.Ordinal);
        Assert.NotNull(streamed[^1].GetCostReceipt());
        Assert.Equal(0, cache.Count);
    }

    private sealed class RejectingVerifier : ISemanticHitVerifier
    {
        public int Calls;

        public ValueTask<bool> VerifyAsync(SemanticHitCandidate candidate, CancellationToken cancellationToken)
        {
            Interlocked.Increment(ref Calls);
            return ValueTask.FromResult(false);
        }
    }

    private sealed class PricedEmbedder : IEmbeddingGenerator<string, Embedding<float>>
    {
        private readonly LexicalEmbeddingGenerator _inner = new();

        public async Task<GeneratedEmbeddings<Embedding<float>>> GenerateAsync(IEnumerable<string> values, EmbeddingGenerationOptions? options = null, CancellationToken cancellationToken = default)
        {
            GeneratedEmbeddings<Embedding<float>> local = await _inner.GenerateAsync(values, options, cancellationToken);
            return new GeneratedEmbeddings<Embedding<float>>(local.Select(e => new Embedding<float>(e.Vector)))
            {
                Usage = new UsageDetails { InputTokenCount = 500 },
            };
        }

        public object? GetService(Type serviceType, object? serviceKey = null) =>
            serviceType == typeof(EmbeddingGeneratorMetadata) ? new EmbeddingGeneratorMetadata("openai", null, "text-embedding-3-small") : null;

        public void Dispose()
        {
        }
    }

    private sealed class SwitchingEmbedder : IEmbeddingGenerator<string, Embedding<float>>
    {
        public int Dimensions { get; set; } = 4;

        public bool Zero { get; set; }

        public bool Fail { get; set; }

        public Task<GeneratedEmbeddings<Embedding<float>>> GenerateAsync(IEnumerable<string> values, EmbeddingGenerationOptions? options = null, CancellationToken cancellationToken = default)
        {
            if (Fail)
            {
                throw new HttpRequestException("embedding endpoint down");
            }

            float[] vector = new float[Dimensions];
            if (!Zero)
            {
                vector[0] = 1f;
            }

            return Task.FromResult(new GeneratedEmbeddings<Embedding<float>>(values.Select(_ => new Embedding<float>(vector))));
        }

        public object? GetService(Type serviceType, object? serviceKey = null) => null;

        public void Dispose()
        {
        }
    }
}

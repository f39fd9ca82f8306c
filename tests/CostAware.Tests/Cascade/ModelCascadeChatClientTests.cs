using System.Text.Json;
using CostAware.Tests.TestUtilities;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;

namespace CostAware.Tests.Cascade;

public class ModelCascadeChatClientTests
{
    private const string Cheap = "gpt-4o-mini";
    private const string Strong = "gpt-4o";
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 11, 24, 3, 0, 0, TimeSpan.Zero));
    private readonly InMemoryCostLedger _ledger = new();

    private static ChatResponse Answer(string text, string model, ChatFinishReason? finish = null) =>
        new(new ChatMessage(ChatRole.Assistant, text))
        {
            ModelId = model,
            FinishReason = finish ?? ChatFinishReason.Stop,
            Usage = new UsageDetails { InputTokenCount = 1_000, OutputTokenCount = 200 },
        };

    // The provider: each model answers with what the test says.
    private static TestChatClient Provider(Func<string, ChatResponse> answer) => new()
    {
        GetResponseAsyncCallback = (_, o, _) => Task.FromResult(answer(o!.ModelId!)),
    };

    private IChatClient Cascade(IChatClient provider, Action<ModelCascadeOptions>? configure = null)
    {
        ModelCascadeOptions options = new()
        {
            Tiers = { new CascadeTier { ModelId = Cheap, AcceptThreshold = 0.7 }, new CascadeTier { ModelId = Strong } },
            MaxRetries = 1,
        };
        configure?.Invoke(options);
        return new ModelCascadeChatClient(
            new TokenMeteringChatClient(provider, priceCatalog: null, ledger: null, tokenEstimator: null, options: null, _time), options, ledger: _ledger, timeProvider: _time);
    }

    [Fact]
    public async Task GetResponseAsync_CheapAnswerPasses_ServedAndTheSavingReported()
    {
        TestChatClient provider = Provider(model => Answer("Paris.", model));
        using IChatClient client = Cascade(provider);

        ChatResponse response = await client.GetResponseAsync("Capital of France?");

        Assert.Equal(1, provider.Calls);
        Assert.Equal(Cheap, response.ModelId);
        CascadeReport report = response.GetCascadeReport()!;
        CascadeAttempt attempt = Assert.Single(report.Attempts);
        Assert.True(attempt.Served);
        Assert.Equal(1d, attempt.Score);

        // gpt-4o-mini: 1,000 x $0.15 + 200 x $0.60 per million = $0.00027; gpt-4o would have cost $0.0045.
        Assert.Equal(0.00027m, report.Spent);
        Assert.Equal(0.0045m, report.StrongestTierCost);
        Assert.Equal(0.00423m, report.Saved);
        Assert.Equal(0.00027m, response.GetCostReceipt()!.Spent);
        Assert.Single(await _ledger.QueryAsync(CostLedgerQuery.All).ToListAsync());
    }

    [Fact]
    public async Task GetResponseAsync_CheapAnswerRefuses_EscalatesAndReportsBothTiers()
    {
        TestChatClient provider = Provider(model => model == Cheap ? Answer("I'm sorry, I can't help with that.", model) : Answer("Here is the proof.", model));
        using IChatClient client = Cascade(provider);

        ChatResponse response = await client.GetResponseAsync("Prove it.");

        Assert.Equal("Here is the proof.", response.Text);
        CascadeReport report = response.GetCascadeReport()!;
        Assert.Equal(2, report.Attempts.Count);
        Assert.Equal(0.2d, report.Attempts[0].Score);
        Assert.Equal("a refusal or an admission of not knowing", report.Attempts[0].Reason);
        Assert.False(report.Attempts[0].Served);
        Assert.True(report.Attempts[1].Served);

        // Both calls are on the receipt; the cascade cost more than the strong tier alone.
        Assert.Equal(2, response.GetCostReceipt()!.Entries.Length);
        Assert.Equal(0.00477m, report.Spent);
        Assert.Equal(-0.00027m, report.Saved);
    }

    [Theory]
    [InlineData("", "empty answer")]
    [InlineData("The answer is", "cut off at the output limit")]
    public async Task GetResponseAsync_StructurallyBadAnswers_Escalate(string text, string reason)
    {
        TestChatClient provider = Provider(model => model == Cheap
            ? Answer(text, model, text.Length > 0 ? ChatFinishReason.Length : null)
            : Answer("Full answer.", model));
        using IChatClient client = Cascade(provider);

        ChatResponse response = await client.GetResponseAsync("q");

        Assert.Equal(reason, response.GetCascadeReport()!.Attempts[0].Reason);
        Assert.Equal(Strong, response.ModelId);
    }

    [Fact]
    public async Task GetResponseAsync_CheapTierErrors_RetriedThenSkipped_ErrorIsNotAScore()
    {
        int cheapCalls = 0;
        TestChatClient provider = new()
        {
            GetResponseAsyncCallback = (_, o, _) =>
            {
                if (o!.ModelId == Cheap)
                {
                    _ = Interlocked.Increment(ref cheapCalls);
                    throw new HttpRequestException("503 Service Unavailable");
                }

                return Task.FromResult(Answer("ok", o.ModelId!));
            },
        };
        using IChatClient client = Cascade(provider, o => o.MaxRetries = 0);

        ChatResponse response = await client.GetResponseAsync("q");

        CascadeAttempt failed = response.GetCascadeReport()!.Attempts[0];
        Assert.Null(failed.Score);
        Assert.Equal("HttpRequestException: 503 Service Unavailable", failed.Error);
        Assert.Equal("failed", failed.Reason);
        Assert.Equal(1, cheapCalls);
        Assert.Equal("ok", response.Text);
    }

    [Fact]
    public async Task GetResponseAsync_EveryTierFails_ThrowsTheLastError()
    {
        TestChatClient provider = new() { GetResponseAsyncCallback = (_, o, _) => throw new HttpRequestException("down: " + o!.ModelId) };
        using IChatClient client = Cascade(provider, o => o.MaxRetries = 0);

        HttpRequestException ex = await Assert.ThrowsAsync<HttpRequestException>(() => client.GetResponseAsync("q"));

        Assert.Equal("down: gpt-4o", ex.Message);
    }

    [Fact]
    public async Task GetResponseAsync_TierFailingRepeatedly_CircuitOpensAndTheTierIsSkipped()
    {
        int cheapCalls = 0;
        TestChatClient provider = new()
        {
            GetResponseAsyncCallback = (_, o, _) =>
            {
                if (o!.ModelId == Cheap)
                {
                    _ = Interlocked.Increment(ref cheapCalls);
                    throw new InvalidOperationException("bad gateway");
                }

                return Task.FromResult(Answer("ok", o.ModelId!));
            },
        };
        using IChatClient client = Cascade(provider, o =>
        {
            o.MaxRetries = 0;
            o.BreakAfterFailures = 3;
        });

        for (int i = 0; i < 3; i++)
        {
            _ = await client.GetResponseAsync("q");
        }

        ChatResponse skipped = await client.GetResponseAsync("q");

        Assert.Equal(3, cheapCalls);
        Assert.StartsWith("circuit open", skipped.GetCascadeReport()!.Attempts[0].Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task GetResponseAsync_RouterSkipsTheCheapTier()
    {
        TestChatClient provider = Provider(model => Answer("ok", model));
        using IChatClient client = Cascade(provider, o => o.Router = new ComplexityCascadeRouter());

        ChatResponse simple = await client.GetResponseAsync("What is the capital of France?");
        ChatResponse hard = await client.GetResponseAsync(
            "Prove step by step that the sum of the first n odd numbers is n^2, then write a Python function ```def f(n):``` that checks it for n up to 1000, and explain the complexity.");

        Assert.Equal(0, simple.GetCascadeReport()!.StartTier);
        Assert.Equal(1, hard.GetCascadeReport()!.StartTier);
        Assert.Equal(Strong, hard.ModelId);
    }

    [Fact]
    public async Task JsonSchemaScorer_InvalidStructuredOutputEscalates_ValidIsServed()
    {
        JsonElement schema = JsonDocument.Parse("""{"type":"object","properties":{"city":{"type":"string"},"population":{"type":"integer"}},"required":["city","population"],"additionalProperties":false}""").RootElement;
        TestChatClient provider = Provider(model => model == Cheap ? Answer("""{"city":"Paris","population":"two million"}""", model) : Answer("""{"city":"Paris","population":2102650}""", model));
        using IChatClient client = Cascade(provider, o => o.Scorers = [StructuralAnswerScorer.Instance, JsonSchemaAnswerScorer.Instance]);

        ChatResponse response = await client.GetResponseAsync("Paris?", new ChatOptions { ResponseFormat = ChatResponseFormat.ForJsonSchema(schema, "city") });

        CascadeAttempt cheap = response.GetCascadeReport()!.Attempts[0];
        Assert.Equal(0d, cheap.Score);
        Assert.Equal("$.population should be \"integer\", is string", cheap.Reason);
        Assert.Equal(Strong, response.ModelId);
    }

    [Fact]
    public async Task JudgeScorer_LowGradeEscalates_JudgeCostOnTheReceipt()
    {
        TestChatClient provider = Provider(model => Answer("42", model));
        TestChatClient judge = new()
        {
            GetResponseAsyncCallback = (_, _, _) => Task.FromResult(new ChatResponse(new ChatMessage(ChatRole.Assistant, "GRADE: 3\nThe answer gives no reasoning."))
            {
                ModelId = Cheap,
                Usage = new UsageDetails { InputTokenCount = 100, OutputTokenCount = 10 },
            }),
        };
        IChatClient meteredJudge = new TokenMeteringChatClient(judge, priceCatalog: null, ledger: null, tokenEstimator: null, options: null, _time);
        using IChatClient client = Cascade(provider, o => o.Scorers = [new JudgeAnswerScorer(meteredJudge, Cheap)]);

        ChatResponse response = await client.GetResponseAsync("Meaning of life?");

        CascadeAttempt cheap = response.GetCascadeReport()!.Attempts[0];
        Assert.Equal(0.3d, cheap.Score);
        Assert.Equal("judge: 3/10 — The answer gives no reasoning.", cheap.Reason);

        // The cheap answer ($0.00027) and the judge (100 x $0.15 + 10 x $0.60 per million = $0.000021) are the tier's cost.
        Assert.Equal(0.000291m, cheap.Cost);
        Assert.Equal(3, response.GetCostReceipt()!.Entries.Length);
    }

    [Fact]
    public async Task AgreementScorer_SamplesDisagree_Escalates()
    {
        int cheapCalls = 0;
        TestChatClient provider = Provider(model => model == Cheap ? Answer(Interlocked.Increment(ref cheapCalls) == 1 ? "The total is 18." : "So she makes $20.", model) : Answer("18", model));
        using IChatClient client = Cascade(provider, o => o.Scorers = [AgreementAnswerScorer.Instance]);

        ChatResponse response = await client.GetResponseAsync("Eggs?");

        Assert.Equal(2, cheapCalls);
        Assert.Equal("a second sample disagrees", response.GetCascadeReport()!.Attempts[0].Reason);
        Assert.Equal("18", response.Text);
    }

    [Theory]
    [InlineData("The total is 18.", "She makes $18 a day.", true)]
    [InlineData("1,000 eggs", "1000", true)]
    [InlineData("18", "20", false)]
    [InlineData("Paris", "paris!", true)]
    [InlineData("Paris", "Lyon", false)]
    public void AgreementScorer_Agree(string first, string second, bool agree) =>
        Assert.Equal(agree, AgreementAnswerScorer.Agree(first, second));

    [Fact]
    public async Task GetStreamingResponseAsync_CheapTierBufferedAndScored_StrongTierStreamsThrough()
    {
        int streamed = 0;
        TestChatClient provider = new()
        {
            GetResponseAsyncCallback = (_, o, _) => Task.FromResult(Answer("I don't know.", o!.ModelId!)),
            GetStreamingResponseAsyncCallback = (messages, o, ct) =>
            {
                _ = Interlocked.Increment(ref streamed);
                Assert.Equal(Strong, o!.ModelId);
                return TestChatClient.Yield(
                    [new ChatResponseUpdate(ChatRole.Assistant, "The strong ") { ModelId = Strong }, new ChatResponseUpdate(ChatRole.Assistant, "answer.")], cancellationToken: ct);
            },
        };
        using IChatClient client = Cascade(provider);

        List<ChatResponseUpdate> updates = await client.GetStreamingResponseAsync("q").ToListAsync();

        Assert.Equal("The strong answer.", updates.ToChatResponse().Text);
        Assert.Equal(1, streamed);
        CascadeReport report = (CascadeReport)updates.Last(u => u.AdditionalProperties?.ContainsKey(CostAwareProperties.CascadeReport) == true).AdditionalProperties![CostAwareProperties.CascadeReport]!;
        Assert.Equal(2, report.Attempts.Count);
        Assert.Equal("a refusal or an admission of not knowing", report.Attempts[0].Reason);
        Assert.True(report.Attempts[1].Served);
    }

    [Fact]
    public async Task GetStreamingResponseAsync_CheapAnswerPasses_ReplayedAfterScoring()
    {
        TestChatClient provider = Provider(model => Answer("Paris.", model));
        using IChatClient client = Cascade(provider);

        List<ChatResponseUpdate> updates = await client.GetStreamingResponseAsync("Capital of France?").ToListAsync();

        Assert.Equal("Paris.", updates.ToChatResponse().Text);
        Assert.Equal(1, provider.Calls);
    }

    [Fact]
    public async Task GetStreamingResponseAsync_StartingAtTheLastTier_StreamsThrough()
    {
        TestChatClient provider = new()
        {
            GetStreamingResponseAsyncCallback = (_, o, ct) => TestChatClient.Yield(
                [new ChatResponseUpdate(ChatRole.Assistant, "streamed ") { ModelId = o!.ModelId }, new ChatResponseUpdate(ChatRole.Assistant, "answer")], cancellationToken: ct),
        };
        using IChatClient client = Cascade(provider, o => o.Tiers = [new CascadeTier { ModelId = Strong }]);

        List<ChatResponseUpdate> updates = await client.GetStreamingResponseAsync("q").ToListAsync();

        Assert.Equal("streamed answer", updates.ToChatResponse().Text);
        Assert.Contains(updates, u => u.AdditionalProperties?.ContainsKey(CostAwareProperties.CascadeReport) == true);
    }

    [Fact]
    public async Task GetResponseAsync_BudgetNearlySpent_ServesTheCheapAnswerAndSaysWhy()
    {
        TestChatClient provider = Provider(model => model == Cheap ? Answer("I'm not sure.", model) : Answer("Sure.", model));
        ModelCascadeOptions cascadeOptions = new()
        {
            Tiers = { new CascadeTier { ModelId = Cheap }, new CascadeTier { ModelId = Strong } },
            MinimumBudgetToEscalate = 0.01m,
        };
        BudgetOptions budgets = new() { Budgets = { ["daily"] = new BudgetDefinition { Limit = 0.02m } }, MaxOutputTokensCeiling = 500 };
        using IChatClient client = new BudgetChatClient(
            new ModelCascadeChatClient(new TokenMeteringChatClient(provider, priceCatalog: null, ledger: null, tokenEstimator: null, options: null, _time), cascadeOptions, timeProvider: _time),
            budgets,
            timeProvider: _time);

        // Plenty left: the refusal escalates.
        ChatResponse first = await client.GetResponseAsync("q", new ChatOptions { ModelId = Cheap });
        Assert.Equal("Sure.", first.Text);
        Assert.False(first.GetCascadeReport()!.StoppedByBudget);

        // Spend most of the budget, then ask again: escalating would need money the budget does not have.
        for (int i = 0; i < 2; i++)
        {
            _ = await client.GetResponseAsync("q", new ChatOptions { ModelId = Strong });
        }

        ChatResponse stopped = await client.GetResponseAsync("q", new ChatOptions { ModelId = Cheap });
        Assert.Equal("I'm not sure.", stopped.Text);
        CascadeReport report = stopped.GetCascadeReport()!;
        Assert.True(report.StoppedByBudget);
        Assert.Contains("served anyway: the budget has", report.Attempts[0].Reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task UseModelCascade_TiersFromConfiguration()
    {
        IConfigurationSection section = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["CostAware:Cascade:Tiers:0:ModelId"] = Cheap,
            ["CostAware:Cascade:Tiers:0:AcceptThreshold"] = "0.8",
            ["CostAware:Cascade:Tiers:1:ModelId"] = Strong,
            ["CostAware:Cascade:MaxRetries"] = "1",
        }).Build().GetSection("CostAware");
        TestChatClient provider = Provider(model => Answer("ok", model));
        ServiceCollection services = new();
        _ = services.AddCostAware(section);
        _ = services.AddChatClient(provider).UseModelCascade().UseTokenMetering();
        await using ServiceProvider built = services.BuildServiceProvider();

        ChatResponse response = await built.GetRequiredService<IChatClient>().GetResponseAsync("q");

        Assert.Equal(Cheap, response.ModelId);
        Assert.Equal(0.8, built.GetRequiredService<IOptions<CostAwareOptions>>().Value.Cascade.Tiers[0].AcceptThreshold);
    }

    [Fact]
    public void AddCostAware_CascadeThresholdOutOfRange_FailsValidation()
    {
        IConfigurationSection section = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["CostAware:Cascade:Tiers:0:ModelId"] = Cheap,
            ["CostAware:Cascade:Tiers:0:AcceptThreshold"] = "-0.5",
        }).Build().GetSection("CostAware");
        using ServiceProvider services = new ServiceCollection().AddCostAware(section).BuildServiceProvider();

        OptionsValidationException ex = Assert.Throws<OptionsValidationException>(() => services.GetRequiredService<IOptions<CostAwareOptions>>().Value);
        Assert.Contains(ex.Failures, f => f.Contains("AcceptThreshold", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("1.5")]
    [InlineData("Infinity")]
    public void AddCostAware_CascadeThresholdAboveOne_IsValid_AndForcesEscalation(string threshold)
    {
        IConfigurationSection section = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["CostAware:Cascade:Tiers:0:ModelId"] = Cheap,
            ["CostAware:Cascade:Tiers:0:AcceptThreshold"] = threshold,
        }).Build().GetSection("CostAware");
        using ServiceProvider services = new ServiceCollection().AddCostAware(section).BuildServiceProvider();

        Assert.True(services.GetRequiredService<IOptions<CostAwareOptions>>().Value.Cascade.Tiers[0].AcceptThreshold > 1d);
    }

    [Fact]
    public void Constructor_NoTiers_Throws()
    {
        ArgumentException ex = Assert.Throws<ArgumentException>(() => new ModelCascadeChatClient(new TestChatClient(), new ModelCascadeOptions()));
        Assert.StartsWith("ModelCascadeOptions.Tiers is empty", ex.Message, StringComparison.Ordinal);
    }
}

using System.Text.RegularExpressions;
using CostAware.Tests.TestUtilities;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Time.Testing;

namespace CostAware.Tests.Cascade;

// Per-call costs, what the strongest tier would have cost, unmetered tiers, per-tier scorers, thresholds outside [0, 1],
// scorers run offline, answers already paid for, and calibration that says when no cascade pays.
public class CascadeScoringAndCostTests
{
    private const string Cheap = "gpt-4o-mini";
    private const string Mid = "gpt-4.1-mini";
    private const string Strong = "gpt-4o";
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 12, 6, 3, 0, 0, TimeSpan.Zero));

    private static ChatResponse Answer(string text, string model, long input = 1_000, long output = 200) =>
        new(new ChatMessage(ChatRole.Assistant, text))
        {
            ModelId = model,
            FinishReason = ChatFinishReason.Stop,
            Usage = new UsageDetails { InputTokenCount = input, OutputTokenCount = output },
        };

    // The provider answers per model; it counts calls per model.
    private sealed class Provider(Func<string, IEnumerable<ChatMessage>, ChatOptions?, ChatResponse> answer) : IChatClient
    {
        private readonly Dictionary<string, int> _calls = [];

        public List<(string Model, IReadOnlyList<ChatMessage> Messages, ChatOptions? Options)> Requests { get; } = [];

        public int CallsTo(string model)
        {
            lock (_calls)
            {
                return _calls.GetValueOrDefault(model);
            }
        }

        public Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
        {
            string model = options?.ModelId ?? Strong;
            lock (_calls)
            {
                _calls[model] = _calls.GetValueOrDefault(model) + 1;
                Requests.Add((model, [.. messages], options));
            }

            return Task.FromResult(answer(model, messages, options));
        }

        public IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default) =>
            TestChatClient.Yield(GetResponseAsync(messages, options, cancellationToken).Result.ToChatResponseUpdates(), cancellationToken: cancellationToken);

        public object? GetService(Type serviceType, object? serviceKey = null) =>
            serviceType == typeof(ChatClientMetadata) ? new ChatClientMetadata("test-provider", null, Strong) : serviceType.IsInstanceOfType(this) ? this : null;

        public void Dispose()
        {
        }
    }

    private sealed class CountingScorer(double score) : IAnswerScorer
    {
        public int Calls;

        public ValueTask<AnswerScore> ScoreAsync(AnswerScoringContext context, CancellationToken cancellationToken)
        {
            _ = Interlocked.Increment(ref Calls);
            return ValueTask.FromResult(new AnswerScore(score, $"fixed {score}"));
        }
    }

    private TokenMeteringChatClient Metered(IChatClient provider) =>
        new(provider, priceCatalog: null, ledger: null, tokenEstimator: null, options: null, _time);

    private ModelCascadeChatClient Cascade(IChatClient inner, params CascadeTier[] tiers) =>
        new(inner, new ModelCascadeOptions { Tiers = [.. tiers], MaxRetries = 0 }, timeProvider: _time);

    [Fact]
    public async Task ReportedCost_WinsOverTheCatalog_AndIsMarkedOnTheReceipt()
    {
        Provider provider = new((model, _, _) =>
        {
            ChatResponse response = Answer("ok", model);
            response.AdditionalProperties = new() { [CostAwareProperties.ReportedCost] = 0.0123m };
            return response;
        });
        using TokenMeteringChatClient client = Metered(provider);

        ChatResponse answer = await client.GetResponseAsync("hi", new ChatOptions { ModelId = Strong });
        CostReceiptEntry entry = Assert.Single(answer.GetCostReceipt()!.Entries);
        Assert.Equal(CostSource.Reported, entry.CostSource);
        Assert.Equal(0.0123m, entry.Cost!.Value.Total);

        // The catalog's split is kept: gpt-4o bills 1,000 in x $2.50/M = $0.0025 and 200 out x $10/M = $0.002.
        Assert.Equal(0.0123m * 0.0025m / 0.0045m, entry.Cost.Value.Input, 20);

        // A stream reports it on any update.
        CostReceipt? streamed = null;
        await foreach (ChatResponseUpdate update in client.GetStreamingResponseAsync("hi", new ChatOptions { ModelId = Strong }))
        {
            streamed ??= update.GetCostReceipt();
        }

        Assert.Equal(0.0123m, streamed!.Spent);
        Assert.Equal(CostSource.Reported, streamed.Entries[0].CostSource);
    }

    [Theory]
    [InlineData(-1.0)]
    [InlineData(double.NaN)]
    [InlineData(double.PositiveInfinity)]
    [InlineData("not a number")]
    [InlineData(true)]
    public async Task ReportedCost_ThatIsNotAFiniteNonNegativeNumber_IsIgnored(object reported)
    {
        Provider provider = new((model, _, _) =>
        {
            ChatResponse response = Answer("ok", model);
            response.AdditionalProperties = new() { [CostAwareProperties.ReportedCost] = reported };
            return response;
        });
        using TokenMeteringChatClient client = Metered(provider);

        ChatResponse answer = await client.GetResponseAsync("hi", new ChatOptions { ModelId = Strong });

        CostReceiptEntry entry = Assert.Single(answer.GetCostReceipt()!.Entries);
        Assert.Equal(CostSource.Catalog, entry.CostSource);
        Assert.Equal(0.0045m, entry.Cost!.Value.Total);
    }

    [Fact]
    public async Task ReportedCost_AsInvariantString_IsRead()
    {
        Provider provider = new((model, _, _) =>
        {
            ChatResponse response = Answer("ok", model);
            response.AdditionalProperties = new() { [CostAwareProperties.ReportedCost] = "0.5" };
            return response;
        });
        using TokenMeteringChatClient client = Metered(provider);

        ChatResponse answer = await client.GetResponseAsync("hi", new ChatOptions { ModelId = "no-such-model-in-the-catalog" });

        // A model the catalog does not know is priced by what was reported, all under Input.
        CostReceiptEntry entry = Assert.Single(answer.GetCostReceipt()!.Entries);
        Assert.Equal(new CostBreakdown { Input = 0.5m }, entry.Cost);
        Assert.True(answer.GetCostReceipt()!.IsFullyPriced);
    }

    [Fact]
    public async Task StrongestTierCost_PricesTheServedTiersOwnCall_NotTheJudgesThatCameAfterIt()
    {
        Provider provider = new((model, messages, _) =>
            messages.First().Text.StartsWith("Grade", StringComparison.Ordinal) ? Answer("GRADE: 9 fine", Mid, input: 50, output: 5) : Answer("Paris.", model));
        TokenMeteringChatClient inner = Metered(provider);
        ModelCascadeChatClient cascade = new(
            inner,
            new ModelCascadeOptions
            {
                Tiers = { new CascadeTier { ModelId = Cheap }, new CascadeTier { ModelId = Strong } },
                Scorers = [new JudgeAnswerScorer(inner, Mid)],
                MaxRetries = 0,
            },
            timeProvider: _time);

        ChatResponse response = await cascade.GetResponseAsync("Capital of France?");

        CascadeReport report = response.GetCascadeReport()!;
        Assert.True(report.Attempts[0].Served);
        Assert.Equal(2, response.GetCostReceipt()!.Entries.Length);

        // gpt-4o for the cheap call's 1,000 in and 200 out, not for the judge's 50 and 5.
        Assert.Equal(0.0045m, report.StrongestTierCost);
    }

    [Fact]
    public async Task TierWithItsOwnUnmeteredClient_IsMeteredOnTheReceipt()
    {
        Provider cheapProvider = new((model, _, _) => Answer("I'm sorry, I can't help with that.", model));
        Provider strongProvider = new((model, _, _) => Answer("Here it is.", model));
        using ModelCascadeChatClient cascade = Cascade(
            Metered(cheapProvider),
            new CascadeTier { ModelId = Cheap },
            new CascadeTier { ModelId = Strong, Client = strongProvider });

        ChatResponse response = await cascade.GetResponseAsync("Do it.");

        Assert.Equal("Here it is.", response.Text);
        CostReceipt receipt = response.GetCostReceipt()!;
        Assert.Equal([Cheap, Strong], receipt.Entries.Select(e => e.ModelId));
        Assert.True(receipt.IsFullyPriced);
        Assert.Equal(0.00027m + 0.0045m, receipt.Spent);
        Assert.Equal(receipt.Spent, response.GetCascadeReport()!.Spent);
    }

    [Fact]
    public async Task TierWithItsOwnUnmeteredClient_IsAdmittedByTheBudget()
    {
        Provider cheapProvider = new((model, _, _) => Answer("I'm sorry, I can't help with that.", model));
        Provider strongProvider = new((model, _, _) => Answer("Here it is.", model));
        BudgetOptions budget = new() { Budgets = { ["all"] = new BudgetDefinition { Limit = 0.001m, Window = BudgetWindow.Lifetime } } };
        using IChatClient client = new BudgetChatClient(
            Cascade(Metered(cheapProvider), new CascadeTier { ModelId = Cheap }, new CascadeTier { ModelId = Strong, Client = strongProvider }),
            budget,
            timeProvider: _time);

        ChatResponse response = await client.GetResponseAsync("Do it.", new ChatOptions { ModelId = Cheap, MaxOutputTokens = 200 });

        // The strong tier would pass the $0.001 limit: it is refused before it is paid, and the answer in hand is served.
        Assert.Equal(0, strongProvider.CallsTo(Strong));
        Assert.True(response.GetCascadeReport()!.StoppedByBudget);
        Assert.Equal(0.00027m, response.GetCostReceipt()!.Spent);
    }

    [Fact]
    public async Task PerTierScorers_ReplaceTheSharedOnes_ForThatTier()
    {
        Provider provider = new((model, _, _) => Answer("fine", model));
        CountingScorer shared = new(1d);
        CountingScorer strict = new(0d);
        using ModelCascadeChatClient cascade = new(
            Metered(provider),
            new ModelCascadeOptions
            {
                Tiers = { new CascadeTier { ModelId = Cheap, Scorers = [strict] }, new CascadeTier { ModelId = Mid }, new CascadeTier { ModelId = Strong } },
                Scorers = [shared],
                MaxRetries = 0,
            },
            timeProvider: _time);

        ChatResponse response = await cascade.GetResponseAsync("q");

        Assert.Equal(Mid, response.ModelId);
        Assert.Equal(1, strict.Calls);
        Assert.Equal(1, shared.Calls);
    }

    [Fact]
    public async Task ThresholdZero_ServesWithoutScoring_AndAboveOne_AlwaysEscalates()
    {
        Provider provider = new((model, _, _) => Answer("fine", model));
        CountingScorer scorer = new(1d);
        using ModelCascadeChatClient zero = new(
            Metered(provider),
            new ModelCascadeOptions { Tiers = { new CascadeTier { ModelId = Cheap, AcceptThreshold = 0 }, new CascadeTier { ModelId = Strong } }, Scorers = [scorer] },
            timeProvider: _time);
        Assert.Equal(Cheap, (await zero.GetResponseAsync("q")).ModelId);
        Assert.Equal(0, scorer.Calls);

        using ModelCascadeChatClient forced = new(
            Metered(provider),
            new ModelCascadeOptions { Tiers = { new CascadeTier { ModelId = Cheap, AcceptThreshold = double.PositiveInfinity }, new CascadeTier { ModelId = Strong } }, Scorers = [scorer] },
            timeProvider: _time);
        ChatResponse response = await forced.GetResponseAsync("q");
        Assert.Equal(Strong, response.ModelId);
        Assert.Equal(1d, response.GetCascadeReport()!.Attempts[0].Score);

        Assert.Throws<ArgumentException>(() => new ModelCascadeChatClient(
            provider, new ModelCascadeOptions { Tiers = { new CascadeTier { AcceptThreshold = double.NaN }, new CascadeTier() } }));
        Assert.Throws<ArgumentException>(() => new ModelCascadeChatClient(
            provider, new ModelCascadeOptions { Tiers = { new CascadeTier { AcceptThreshold = -0.1 }, new CascadeTier() } }));
    }

    [Theory]
    [InlineData("42", "7", 1, 0d)]
    [InlineData("The answer is 42.", "so it is 42", 2, 1d)]
    public async Task ScorersRunOffline_OnRecordedAnswers(string cheap, string mid, int otherTier, double expected)
    {
        AnswerScoringContext context = new(
            [new ChatMessage(ChatRole.User, "6 x 7?")],
            options: null,
            new ChatResponse(new ChatMessage(ChatRole.Assistant, cheap)),
            tier: 0,
            askTier: (tier, _) => Task.FromResult(new ChatResponse(new ChatMessage(ChatRole.Assistant, tier == otherTier ? mid : "?"))));

        AnswerScore score = await new TierAgreementAnswerScorer(otherTier).ScoreAsync(context, CancellationToken.None);

        Assert.Equal(expected, score.Score);
        await Assert.ThrowsAsync<InvalidOperationException>(() => context.ResampleAsync());
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => context.GetTierAnswerAsync(0));
    }

    [Fact]
    public async Task TierAgreement_CheapAgreeingWithMid_ServesCheap_AndNeverAsksMidTwice()
    {
        // Cheap and mid agree on the first question, disagree on the second.
        Provider provider = new((model, messages, _) =>
        {
            bool first = messages.Last().Text == "first";
            return model switch
            {
                Cheap => Answer(first ? "It is 12." : "It is 12.", model),
                Mid => Answer(first ? "12" : "13", model),
                _ => Answer("13, surely", model),
            };
        });
        using ModelCascadeChatClient cascade = new(
            Metered(provider),
            new ModelCascadeOptions
            {
                Tiers =
                {
                    new CascadeTier { ModelId = Cheap, AcceptThreshold = 1, Scorers = [new TierAgreementAnswerScorer(1)] },
                    new CascadeTier { ModelId = Mid, AcceptThreshold = 1, Scorers = [new TierAgreementAnswerScorer(0)] },
                    new CascadeTier { ModelId = Strong },
                },
                MaxRetries = 0,
            },
            timeProvider: _time);

        ChatResponse agreed = await cascade.GetResponseAsync("first");
        Assert.Equal("It is 12.", agreed.Text);
        Assert.Equal((1, 1, 0), (provider.CallsTo(Cheap), provider.CallsTo(Mid), provider.CallsTo(Strong)));

        ChatResponse escalated = await cascade.GetResponseAsync("second");
        Assert.Equal("13, surely", escalated.Text);
        Assert.Equal((2, 2, 1), (provider.CallsTo(Cheap), provider.CallsTo(Mid), provider.CallsTo(Strong)));
        CascadeReport report = escalated.GetCascadeReport()!;
        Assert.Equal(3, report.Attempts.Count);
        Assert.Contains("already paid for", report.Attempts[1].Reason, StringComparison.Ordinal);
        Assert.Equal(0m, report.Attempts[1].Cost);

        // Every call is on the receipt once: cheap, mid (asked by cheap's scorer), strong.
        Assert.Equal([Cheap, Mid, Strong], escalated.GetCostReceipt()!.Entries.Select(e => e.ModelId));
        Assert.Equal(report.Spent, escalated.GetCostReceipt()!.Spent);
    }

    [Fact]
    public async Task Streaming_LastTierAlreadyAskedByAScorer_IsServedWithoutAskingAgain()
    {
        Provider provider = new((model, _, _) => Answer(model == Cheap ? "1" : "2", model));
        using ModelCascadeChatClient cascade = new(
            Metered(provider),
            new ModelCascadeOptions
            {
                Tiers = { new CascadeTier { ModelId = Cheap, AcceptThreshold = 1, Scorers = [new TierAgreementAnswerScorer(1)] }, new CascadeTier { ModelId = Strong } },
                MaxRetries = 0,
            },
            timeProvider: _time);

        List<ChatResponseUpdate> updates = [];
        await foreach (ChatResponseUpdate update in cascade.GetStreamingResponseAsync("q"))
        {
            updates.Add(update);
        }

        Assert.Equal("2", updates.ToChatResponse().Text);
        Assert.Equal(1, provider.CallsTo(Strong));
        CostReceipt receipt = updates.Select(u => u.GetCostReceipt()).Last(r => r is not null)!;
        Assert.Equal(2, receipt.Entries.Length);
    }

    [Fact]
    public async Task MajorityVote_ServesTheMajorityAnswer_AlreadyPaidFor()
    {
        int samples = 0;
        Provider provider = new((model, _, options) =>
        {
            // The first answer is the odd one out; the samples at temperature 0.7 agree with each other.
            int n = Interlocked.Increment(ref samples);
            return Answer(n == 1 ? "It is 5." : "It is 6.", model);
        });
        using ModelCascadeChatClient cascade = new(
            Metered(provider),
            new ModelCascadeOptions
            {
                Tiers = { new CascadeTier { ModelId = Cheap, AcceptThreshold = 0.6, Scorers = [new MajorityVoteAnswerScorer(3, 0.7f)] }, new CascadeTier { ModelId = Strong } },
                MaxRetries = 0,
            },
            timeProvider: _time);

        ChatResponse response = await cascade.GetResponseAsync("q");

        Assert.Equal("It is 6.", response.Text);
        Assert.Equal(0, provider.CallsTo(Strong));
        Assert.Equal(3, provider.CallsTo(Cheap));
        Assert.All(provider.Requests.Skip(1), r => Assert.Equal(0.7f, r.Options!.Temperature));
        Assert.Equal(3, response.GetCostReceipt()!.Entries.Length);
    }

    [Fact]
    public async Task ScorerThatThrows_IsNoVerdict_AndTheRequestEscalates()
    {
        Provider provider = new((model, _, _) => Answer("fine", model));
        using ModelCascadeChatClient cascade = new(
            Metered(provider),
            new ModelCascadeOptions
            {
                Tiers = { new CascadeTier { ModelId = Cheap }, new CascadeTier { ModelId = Strong } },
                Scorers = [AnswerScorer.Create((_, _) => throw new InvalidOperationException("checker down"))],
                MaxRetries = 0,
            },
            timeProvider: _time);

        ChatResponse response = await cascade.GetResponseAsync("q");

        Assert.Equal(Strong, response.ModelId);
        Assert.Contains("checker down", response.GetCascadeReport()!.Attempts[0].Reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task FormatScorer_ScoresByPattern()
    {
        IAnswerScorer scorer = AnswerScorer.Matches(new Regex(@"^#### \d+$", RegexOptions.Multiline, TimeSpan.FromSeconds(1)));
        AnswerScoringContext good = new([], null, new ChatResponse(new ChatMessage(ChatRole.Assistant, "work\n#### 42")), 0);
        AnswerScoringContext bad = new([], null, new ChatResponse(new ChatMessage(ChatRole.Assistant, "about 42")), 0);

        Assert.Equal(1d, (await scorer.ScoreAsync(good, CancellationToken.None)).Score);
        Assert.Equal(0d, (await scorer.ScoreAsync(bad, CancellationToken.None)).Score);
    }

    [Fact]
    public async Task JudgeSeesTheWholeConversation_SystemPromptAndExamplesIncluded()
    {
        Provider judge = new((model, _, _) => Answer("GRADE: 8 ok", model));
        ChatMessage[] conversation =
        [
            new(ChatRole.System, "Answer in French."),
            new(ChatRole.User, "Example: hello?"),
            new(ChatRole.Assistant, "bonjour"),
            new(ChatRole.User, "thanks?"),
        ];
        AnswerScoringContext context = new(conversation, null, new ChatResponse(new ChatMessage(ChatRole.Assistant, "merci")), 0);

        AnswerScore score = await new JudgeAnswerScorer(judge).ScoreAsync(context, CancellationToken.None);

        Assert.Equal(0.8d, score.Score, 6);
        string sent = judge.Requests.Single().Messages[^1].Text;
        Assert.Contains("Answer in French.", sent, StringComparison.Ordinal);
        Assert.Contains("bonjour", sent, StringComparison.Ordinal);
        Assert.Contains("merci", sent, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("The answer is (B).", "Answer: B", true)]
    [InlineData("I think (A) is tempting but the answer is C", "(C)", true)]
    [InlineData("The answer is B", "The answer is D", false)]
    [InlineData("no letter here", "no letter here", false)]
    public async Task MultipleChoiceEquivalence_ReadsTheChosenLetter(string first, string second, bool equal) =>
        Assert.Equal(equal, await AnswerEquivalence.MultipleChoice.AreEquivalentAsync(first, second, CancellationToken.None));

    [Fact]
    public void Calibrate_WhenOnlyTheStrongestAloneMeetsTheTarget_SaysNoCascadeMetIt()
    {
        // The cheap tier's score says nothing: it is right half the time whatever its score.
        List<IReadOnlyList<CascadeTierOutcome>> examples = [];
        for (int i = 0; i < 40; i++)
        {
            examples.Add([new CascadeTierOutcome(i % 4 / 4d, i / 4 % 2, 0.001m), new CascadeTierOutcome(1d, 1d, 0.01m)]);
        }

        CascadeCalibrationResult result = CascadeCalibration.Calibrate(examples, targetQuality: 0.99);

        Assert.False(result.TargetMet);
        Assert.True(result.StrongestAloneMeetsTarget);
        Assert.False(result.Chosen.IsCascade);
        CascadeTier strong = new() { ModelId = Strong };
        CascadeTier only = Assert.Single(result.Chosen.Apply([new CascadeTier { ModelId = Cheap }, strong]));
        Assert.Equal(Strong, only.ModelId);
        Assert.NotSame(strong, only);
    }

    [Fact]
    public void Calibrate_ACascadeThatMeetsTheTargetOnlyAtMoreThanTheStrongestAlone_DoesNotCount()
    {
        // The cheap tier is right only where its score is 1, which is rare; the strongest is right except where the cheap
        // one is: escalating all but those reaches the target, for the cheap calls on top of the strongest ones.
        List<IReadOnlyList<CascadeTierOutcome>> examples = [];
        for (int i = 0; i < 100; i++)
        {
            bool rare = i % 50 == 0;
            examples.Add([new CascadeTierOutcome(rare ? 1d : 0d, rare ? 1d : 0d, 0.002m), new CascadeTierOutcome(1d, rare ? 0d : 1d, 0.01m)]);
        }

        CascadeCalibrationResult result = CascadeCalibration.Calibrate(examples, targetQuality: 0.98);

        Assert.False(result.TargetMet);
        Assert.True(result.StrongestAloneMeetsTarget);
        Assert.False(result.Chosen.IsCascade);
        Assert.Contains(result.Curve, p => p.IsCascade && p.Quality >= 0.98 && p.Cost > 0.01m);
    }

    [Fact]
    public void Calibrate_RejectsOutcomesOutOfRange()
    {
        Assert.Throws<ArgumentException>(() => CascadeCalibration.Calibrate(
            [[new CascadeTierOutcome(double.NaN, 1d, 0.1m), new CascadeTierOutcome(1d, 1d, 1m)]], 0.5));
        Assert.Throws<ArgumentException>(() => CascadeCalibration.Calibrate(
            [[new CascadeTierOutcome(0.5, 1d, -0.1m), new CascadeTierOutcome(1d, 1d, 1m)]], 0.5));
    }

    [Fact]
    public async Task CollectAsync_GathersEveryTiersOutcome_ThroughTheRealStage()
    {
        Provider provider = new((model, messages, _) => Answer(model == Cheap && messages.Last().Text == "hard" ? "I'm not sure." : "4", model));
        using ModelCascadeChatClient cascade = Cascade(Metered(provider), new CascadeTier { ModelId = Cheap }, new CascadeTier { ModelId = Strong });

        IReadOnlyList<IReadOnlyList<CascadeTierOutcome>> outcomes = await CascadeCalibration.CollectAsync(
            cascade,
            [[new ChatMessage(ChatRole.User, "easy")], [new ChatMessage(ChatRole.User, "hard")]],
            (_, _, response) => response.Text == "4" ? 1d : 0d);

        Assert.Equal(2, outcomes.Count);
        Assert.Equal(new CascadeTierOutcome(1d, 1d, 0.00027m), outcomes[0][0]);
        Assert.Equal(new CascadeTierOutcome(1d, 1d, 0.0045m), outcomes[0][1]);
        Assert.Equal(0d, outcomes[1][0].Quality);
        Assert.True(outcomes[1][0].Score < 0.7);

        CascadeCalibrationResult result = CascadeCalibration.Calibrate(outcomes, 1d);
        Assert.True(result.TargetMet);
        Assert.Equal(1d, result.Chosen.Quality);
        Assert.True(result.Chosen.Cost < 0.0045m + 0.00027m);
    }

    [Fact]
    public async Task ScorersAskForAnotherTier_WhenTheBudgetHasNoRoomForIt_TheAnswerInHandIsServed()
    {
        // Cheap fits the $0.001 budget; the mid tier the cheap tier's scorer asks for does not.
        Provider provider = new((model, _, _) => Answer(model == Cheap ? "12" : "13", model));
        BudgetOptions budget = new() { Budgets = { ["all"] = new BudgetDefinition { Limit = 0.001m, Window = BudgetWindow.Lifetime } } };
        using IChatClient client = new BudgetChatClient(
            new ModelCascadeChatClient(
                Metered(provider),
                new ModelCascadeOptions
                {
                    Tiers =
                    {
                        new CascadeTier { ModelId = Cheap, AcceptThreshold = 1, Scorers = [new TierAgreementAnswerScorer(1)] },
                        new CascadeTier { ModelId = Strong },
                    },
                    MaxRetries = 0,
                },
                timeProvider: _time),
            budget,
            timeProvider: _time);

        ChatResponse response = await client.GetResponseAsync("q", new ChatOptions { ModelId = Cheap, MaxOutputTokens = 200 });

        Assert.Equal("12", response.Text);
        Assert.Equal(0, provider.CallsTo(Strong));
        Assert.True(response.GetCascadeReport()!.StoppedByBudget);
        Assert.Equal(0.00027m, response.GetCostReceipt()!.Spent);
    }

    [Fact]
    public async Task CancelledWhileAScorerAsksAnotherTier_TheCallerSeesCancellation_AndWhatWasSpentIsRecorded()
    {
        using CancellationTokenSource cancel = new();
        InMemoryCostLedger ledger = new();
        Provider provider = new((model, _, _) =>
        {
            if (model == Strong)
            {
                cancel.Cancel();
                cancel.Token.ThrowIfCancellationRequested();
            }

            return Answer("12", model);
        });
        using ModelCascadeChatClient cascade = new(
            Metered(provider),
            new ModelCascadeOptions
            {
                Tiers = { new CascadeTier { ModelId = Cheap, AcceptThreshold = 1, Scorers = [new TierAgreementAnswerScorer(1)] }, new CascadeTier { ModelId = Strong } },
                MaxRetries = 0,
            },
            ledger: ledger,
            timeProvider: _time);

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => cascade.GetResponseAsync("q", cancellationToken: cancel.Token));

        // The cheap call was paid for and is recorded; the strong call the scorer started failed before it was metered.
        CostLedgerRecord recorded = Assert.Single(await ledger.QueryAsync(CostLedgerQuery.All).ToListAsync());
        Assert.Equal(Cheap, recorded.Entry.ModelId);
        Assert.Equal(0.00027m, recorded.Entry.Cost!.Value.Total);
        Assert.Equal(1, provider.CallsTo(Strong));
    }

    [Fact]
    public async Task SixtyFourConcurrentRequests_EachAsksEveryTierAtMostOnce()
    {
        Provider provider = new((model, messages, _) => Answer(model == Cheap && messages.Last().Text.EndsWith('0') ? "other" : messages.Last().Text, model));
        using ModelCascadeChatClient cascade = new(
            Metered(provider),
            new ModelCascadeOptions
            {
                Tiers =
                {
                    new CascadeTier { ModelId = Cheap, AcceptThreshold = 1, Scorers = [new TierAgreementAnswerScorer(1, AnswerEquivalence.NormalizedText)] },
                    new CascadeTier { ModelId = Mid, AcceptThreshold = 1, Scorers = [new TierAgreementAnswerScorer(0, AnswerEquivalence.NormalizedText)] },
                    new CascadeTier { ModelId = Strong },
                },
                MaxRetries = 0,
            },
            timeProvider: _time);

        ChatResponse[] responses = await Task.WhenAll(Enumerable.Range(0, 64).Select(i => Task.Run(() => cascade.GetResponseAsync($"q{i}"))));

        // Requests ending in 0 disagree and go to the strong tier: 7 of 64 (q0, q10, ..., q60).
        Assert.Equal((64, 64, 7), (provider.CallsTo(Cheap), provider.CallsTo(Mid), provider.CallsTo(Strong)));
        Assert.All(responses, r => Assert.Equal(r.GetCostReceipt()!.Spent, r.GetCascadeReport()!.Spent));
        Assert.Equal(7, responses.Count(r => r.ModelId == Strong));
    }
}

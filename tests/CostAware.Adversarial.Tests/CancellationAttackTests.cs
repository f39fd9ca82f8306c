using Microsoft.Extensions.AI;

namespace CostAware.Adversarial.Tests;

// Every stage in one pipeline (budget, prompt cache, semantic cache, cascade, metering), 64 concurrent callers over
// three tenants asking overlapping questions (so misses are shared and hits happen), each cancelled at a random moment
// (before, during or after the provider call, or never). Whatever the interleaving, afterwards: no budget is over its
// limit, nothing is left reserved, and the budgets, the ledger and the provider's bill agree to the nano-dollar.
public sealed class CancellationAttackTests
{
    private const decimal Limit = 0.0015m;
    private static readonly string[] Tenants = ["acme", "globex", "initech"];

    private static Harness Pipeline(BillingProvider provider) => Harness.Create(
        new Dictionary<string, string?>(Harness.TenantBudget(Limit)),
        b => b.UseBudget()
            .UsePromptCache()
            .UseSemanticCache()
            .UseModelCascade(o =>
            {
                o.Tiers = [new CascadeTier { ModelId = "gpt-4o-mini", AcceptThreshold = 0.5 }, new CascadeTier { ModelId = "gpt-4.1-mini" }];
                o.Scorers = [new CoinScorer()];
                o.MaxRetries = 0;
            })
            .UseTokenMetering(),
        provider);

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public async Task RandomCancellation_NonStreaming_BudgetsLedgerAndBillAgree(int seed)
    {
        BillingProvider provider = new() { BeforeAnswer = ct => Task.Delay(TimeSpan.FromMilliseconds(Random.Shared.Next(0, 25)), TimeProvider.System, ct) };
        await using Harness app = Pipeline(provider);

        await Attack(app, seed, streaming: _ => false);

        decimal spent = 0m;
        foreach (string tenant in Tenants)
        {
            BudgetStatus status = await app.SettledAsync(tenant);
            Assert.True(status.Spent <= Limit, $"{tenant} spent {status.Spent} against {Limit}");
            spent += status.Spent;
        }

        Assert.True(provider.BilledCalls > 0);
        Assert.Equal(provider.Billed, spent);
        Assert.Equal(provider.Billed, await app.LedgerSpentAsync());
    }

    [Theory]
    [InlineData(4)]
    [InlineData(5)]
    public async Task RandomCancellation_StreamedAndNot_NothingUnderCountedNothingOverLimit(int seed)
    {
        BillingProvider provider = new() { BeforeAnswer = ct => Task.Delay(TimeSpan.FromMilliseconds(Random.Shared.Next(0, 25)), TimeProvider.System, ct) };
        await using Harness app = Pipeline(provider);

        await Attack(app, seed, streaming: random => random.Next(2) == 0);

        // A stream abandoned part-way is charged for what it produced (estimated) although this provider bills only
        // complete answers, so the budgets may count more than the bill, never less.
        decimal spent = 0m;
        foreach (string tenant in Tenants)
        {
            BudgetStatus status = await app.SettledAsync(tenant);
            Assert.True(status.Spent <= Limit, $"{tenant} spent {status.Spent} against {Limit}");
            spent += status.Spent;
        }

        Assert.True(spent >= provider.Billed, $"budgets counted {spent}, the provider billed {provider.Billed}");
        Assert.Equal(spent, await app.LedgerSpentAsync());
    }

    private static async Task Attack(Harness app, int seed, Func<Random, bool> streaming)
    {
        Random plan = new(seed);
        (string Tenant, string Question, int CancelAfterMs, bool Stream)[] calls =
        [
            .. Enumerable.Range(0, 192).Select(_ => (
                Tenants[plan.Next(Tenants.Length)],
                $"What is the capital of country number {plan.Next(40)}?",
                plan.Next(4) == 0 ? -1 : plan.Next(0, 40),
                streaming(plan))),
        ];
        int next = -1;
        await MoneyGuaranteeRegressionTests.Concurrently(64, async caller =>
        {
            for (int i = Interlocked.Increment(ref next); i < calls.Length; i = Interlocked.Increment(ref next))
            {
                (string tenant, string question, int cancelAfter, bool stream) = calls[i];
                using CancellationTokenSource cancel = cancelAfter < 0 ? new() : new(TimeSpan.FromMilliseconds(cancelAfter));
                try
                {
                    ChatOptions options = Harness.For(tenant);
                    if (stream)
                    {
                        await foreach (ChatResponseUpdate update in app.Client.GetStreamingResponseAsync(question, options, cancel.Token))
                        {
                            _ = update;
                        }
                    }
                    else
                    {
                        _ = await app.Client.GetResponseAsync(question, options, cancel.Token);
                    }
                }
                catch (OperationCanceledException)
                {
                }
                catch (BudgetExceededException)
                {
                }
            }
        });
    }

    // Accepts about half of the cheap tier's answers, so that the dearer tier is asked (and admitted) too.
    private sealed class CoinScorer : IAnswerScorer
    {
        public ValueTask<AnswerScore> ScoreAsync(AnswerScoringContext context, CancellationToken cancellationToken) =>
            new(new AnswerScore((context.Messages[^1].Text.Length % 2) == 0 ? 1d : 0d, "coin"));
    }
}

using System.Runtime.CompilerServices;
using CostAware.Internal;
using CostAware.Shared;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Polly;
using Polly.CircuitBreaker;
using Polly.Retry;
using Polly.Timeout;

namespace CostAware;

/// <summary>
/// A chat client stage that calls the cheapest tier first, scores its answer, and escalates to the next (dearer) tier
/// only when the score is below the tier's <see cref="CascadeTier.AcceptThreshold"/>; the last tier's answer is always
/// served. A tier that fails (after retries, on timeout, or with its circuit open) is skipped: an error is not a low
/// score, and the report tells them apart.
/// </summary>
/// <remarks>
/// <para>
/// Microsoft.Extensions.AI's <c>FailoverChatClient</c> moves on only after an exception, and routers choose before
/// the call; this stage decides after the call, on the answer. Every tier's calls (and any judge or resample calls
/// of scoring) are metered onto the same receipt, so an outer budget stage settles what the cascade really spent.
/// </para>
/// <para>
/// Streaming: a tier whose answer may still be rejected is buffered until it is scored, then replayed; the last tier
/// (or the first one tried, when it is the last) streams straight through. First-token latency is traded for cost.
/// </para>
/// <para>This type is thread-safe.</para>
/// </remarks>
public sealed class ModelCascadeChatClient : DelegatingChatClient
{

    private readonly CascadeTier[] _tiers;
    private readonly IAnswerScorer[] _scorers;
    private readonly CascadeScoreCombination _combination;
    private readonly ICascadeRouter? _router;
    private readonly ResiliencePipeline[] _pipelines;
    private readonly IPriceCatalog _catalog;
    private readonly ICostLedger? _ledger;
    private readonly TimeProvider _timeProvider;
    private readonly ILogger _logger;
    private readonly decimal? _minimumBudgetToEscalate;

    /// <summary>Initializes a new instance of the <see cref="ModelCascadeChatClient"/> class.</summary>
    /// <param name="innerClient">The pipeline tiers without a client of their own call.</param>
    /// <param name="options">The tiers, scorers and failover settings; copied and validated now.</param>
    /// <param name="priceCatalog">Prices for the strongest-tier comparison; the built-in catalog when <see langword="null"/>.</param>
    /// <param name="ledger">Where receipts this stage opens are recorded, or <see langword="null"/>.</param>
    /// <param name="timeProvider">The clock for timeouts and breakers; <see cref="TimeProvider.System"/> when <see langword="null"/>.</param>
    /// <param name="loggerFactory">Where the stage logs, or <see langword="null"/>.</param>
    /// <exception cref="ArgumentNullException"><paramref name="innerClient"/> or <paramref name="options"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException">The options have no tiers, or a threshold outside [0, 1].</exception>
    public ModelCascadeChatClient(
        IChatClient innerClient, ModelCascadeOptions options, IPriceCatalog? priceCatalog = null, ICostLedger? ledger = null, TimeProvider? timeProvider = null, ILoggerFactory? loggerFactory = null)
        : base(innerClient)
    {
        ArgumentNullException.ThrowIfNull(options);
        ModelCascadeOptions copy = options.Clone();
        if (copy.Tiers.Count == 0)
        {
            throw new ArgumentException("ModelCascadeOptions.Tiers is empty: give the cascade at least one tier (cheapest first).", nameof(options));
        }

        for (int i = 0; i < copy.Tiers.Count; i++)
        {
            double threshold = copy.Tiers[i].AcceptThreshold;
            if (!(threshold >= 0d && threshold <= 1d))
            {
                throw new ArgumentException($"Cascade:Tiers:{i}:AcceptThreshold ({threshold}) must be in [0, 1].", nameof(options));
            }
        }

        _tiers = [.. copy.Tiers];
        _scorers = copy.Scorers.Count == 0 ? [StructuralAnswerScorer.Instance] : [.. copy.Scorers];
        _combination = copy.Combination;
        _router = copy.Router;
        _minimumBudgetToEscalate = copy.MinimumBudgetToEscalate;
        _catalog = priceCatalog ?? PriceCatalog.BuiltIn;
        _ledger = ledger;
        _timeProvider = timeProvider ?? TimeProvider.System;
        _logger = (loggerFactory ?? NullLoggerFactory.Instance).CreateLogger<ModelCascadeChatClient>();
        _pipelines = [.. _tiers.Select(_ => BuildPipeline(copy, _timeProvider))];
    }

    /// <inheritdoc />
    public override async Task<ChatResponse> GetResponseAsync(
        IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(messages);
        IReadOnlyList<ChatMessage> list = messages as IReadOnlyList<ChatMessage> ?? [.. messages];
        CostCallContext call = CostCallContext.FindOrOpen(options, _timeProvider, out bool owned);
        CostReceipt receipt = call.Receipt;
        try
        {
            int first = await StartTierAsync(list, options, cancellationToken);
            CascadeRun run = await RunTiersAsync(list, options, call, first, includeLast: true, cancellationToken);
            if (run.Served is not { } served)
            {
                // Every tier failed: the last error is the caller's.
                throw run.LastError ?? new InvalidOperationException("The cascade tried no tier.");
            }

            (served.AdditionalProperties ??= [])[CostAwareProperties.CascadeReport] = Report(run, first, receipt);
            served.AdditionalProperties[CostAwareProperties.Receipt] = receipt;
            return served;
        }
        finally
        {
            // What the tiers spent is recorded whether or not an answer was served.
            await FinishAsync(call, owned);
        }
    }

    /// <inheritdoc />
    public override IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(
        IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(messages);
        return StreamAsync(messages as IReadOnlyList<ChatMessage> ?? [.. messages], options, cancellationToken);
    }

    // Tiers that may still be rejected are asked without streaming (their answer is scored whole, then replayed as
    // updates); the last tier, served regardless, streams straight through.
    private async IAsyncEnumerable<ChatResponseUpdate> StreamAsync(
        IReadOnlyList<ChatMessage> messages, ChatOptions? options, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        CostCallContext call = CostCallContext.FindOrOpen(options, _timeProvider, out bool owned);
        CostReceipt receipt = call.Receipt;
        try
        {
            int first = await StartTierAsync(messages, options, cancellationToken);
            CascadeRun run = await RunTiersAsync(messages, options, call, first, includeLast: false, cancellationToken);
            if (run.Served is { } served)
            {
                foreach (ChatResponseUpdate update in served.ToChatResponseUpdates())
                {
                    yield return update;
                }
            }
            else
            {
                int last = _tiers.Length - 1;
                int before = receipt.Entries.Length;
                IChatClient client = _tiers[last].Client ?? InnerClient;
                string? modelId = null;
                await foreach (ChatResponseUpdate update in client.GetStreamingResponseAsync(messages, TierOptions(last, options, call), cancellationToken))
                {
                    modelId ??= update.ModelId;
                    yield return update;
                }

                run.Attempts.Add(new CascadeAttempt { Tier = last, ModelId = modelId ?? _tiers[last].ModelId, Cost = SpentSince(receipt, before), Served = true, Reason = "last tier" });
            }

            yield return new ChatResponseUpdate
            {
                Role = ChatRole.Assistant,
                AdditionalProperties = new() { [CostAwareProperties.CascadeReport] = Report(run, first, receipt), [CostAwareProperties.Receipt] = receipt },
            };
        }
        finally
        {
            await FinishAsync(call, owned);
        }
    }

    // A context this stage opened is recorded once, when the request is over, and closed.
    private ValueTask FinishAsync(CostCallContext call, bool owned) =>
        owned ? CacheSettlement.CompleteAsync(call, _ledger, _logger) : ValueTask.CompletedTask;

    // Calls the tiers from the first, scoring each answer, until one is served; the last tier's answer is served
    // regardless when it is included, and left to the caller (to stream) when it is not.
    private async Task<CascadeRun> RunTiersAsync(
        IReadOnlyList<ChatMessage> list, ChatOptions? options, CostCallContext call, int first, bool includeLast, CancellationToken cancellationToken)
    {
        CostReceipt receipt = call.Receipt;
        CascadeRun run = new();
        (ChatResponse Response, int Tier)? inHand = null;
        int end = includeLast ? _tiers.Length : _tiers.Length - 1;
        for (int tier = first; tier < end && run.Served is null; tier++)
        {
            int before = receipt.Entries.Length;
            bool last = tier == _tiers.Length - 1;
            ChatOptions forwarded = TierOptions(tier, options, call);
            ChatResponse response;
            try
            {
                response = await CallAsync(tier, list, forwarded, cancellationToken);
            }
            catch (BudgetExceededException refused) when (inHand is { } held)
            {
                // The budgets have no room for a dearer tier: the answer in hand is served rather than none.
                run.Served = held.Response;
                run.StoppedByBudget = true;
                run.Attempts.Add(new CascadeAttempt { Tier = tier, ModelId = _tiers[tier].ModelId, Error = refused.Message, Reason = "refused by the budget" });
                Log.CascadeTierFailed(_logger, tier, _tiers[tier].ModelId, refused);
                break;
            }
            catch (Exception ex) when (ex is not (OperationCanceledException or BudgetExceededException) || (ex is OperationCanceledException && !cancellationToken.IsCancellationRequested))
            {
                run.LastError = ex;
                run.Attempts.Add(new CascadeAttempt { Tier = tier, ModelId = _tiers[tier].ModelId, Cost = SpentSince(receipt, before), Error = Describe(ex), Reason = "failed" });
                Log.CascadeTierFailed(_logger, tier, _tiers[tier].ModelId, ex);
                continue;
            }

            if (last)
            {
                run.Served = response;
                run.Attempts.Add(new CascadeAttempt { Tier = tier, ModelId = response.ModelId ?? _tiers[tier].ModelId, Cost = SpentSince(receipt, before), Served = true, Reason = "last tier" });
                break;
            }

            AnswerScore score = await ScoreAsync(tier, list, forwarded, response, cancellationToken);
            bool accepted = score.Score >= _tiers[tier].AcceptThreshold;
            if (!accepted && await BudgetTooLowAsync(call, cancellationToken) is { } left)
            {
                // Escalating would spend money the budgets no longer have: the answer in hand is served.
                accepted = true;
                run.StoppedByBudget = true;
                score = new AnswerScore(score.Score, $"{score.Reason}; served anyway: the budget has {left:0.######} left");
            }

            run.Attempts.Add(new CascadeAttempt
            {
                Tier = tier,
                ModelId = response.ModelId ?? _tiers[tier].ModelId,
                Cost = SpentSince(receipt, before),
                Score = score.Score,
                Reason = score.Reason,
                Served = accepted,
            });
            if (accepted)
            {
                run.Served = response;
            }
            else
            {
                inHand = (response, tier);
                Log.CascadeEscalated(_logger, tier, score.Score, _tiers[tier].AcceptThreshold, score.Reason);
            }
        }

        return run;
    }

    private sealed class CascadeRun
    {
        public ChatResponse? Served { get; set; }

        public List<CascadeAttempt> Attempts { get; } = [];

        public Exception? LastError { get; set; }

        public bool StoppedByBudget { get; set; }
    }

    // The room the budget stage outside reports, when it is below the escalation floor; null to escalate.
    private async ValueTask<decimal?> BudgetTooLowAsync(CostCallContext call, CancellationToken cancellationToken)
    {
        if (_minimumBudgetToEscalate is not { } floor || call.Budgets.IsEmpty)
        {
            return null;
        }

        decimal? left = await call.GetRemainingBudgetAsync(cancellationToken);
        return left is { } room && room < floor ? room : null;
    }

    private async ValueTask<int> StartTierAsync(IReadOnlyList<ChatMessage> messages, ChatOptions? options, CancellationToken cancellationToken)
    {
        if (_router is null || _tiers.Length == 1)
        {
            return 0;
        }

        int chosen = await _router.SelectStartTierAsync(messages, options, _tiers.Length, cancellationToken);
        return Math.Clamp(chosen, 0, _tiers.Length - 1);
    }

    // The caller's options for one tier: its model, the receipt every call is metered onto, and the scope.
    private ChatOptions TierOptions(int tier, ChatOptions? options, CostCallContext call)
    {
        ChatOptions forwarded = call.Forward(options);
        if (_tiers[tier].ModelId is { } model)
        {
            forwarded.ModelId = model;
        }

        return forwarded;
    }

    private Task<ChatResponse> CallAsync(int tier, IReadOnlyList<ChatMessage> messages, ChatOptions options, CancellationToken cancellationToken)
    {
        IChatClient client = _tiers[tier].Client ?? InnerClient;
        return _pipelines[tier].ExecuteAsync(
            static async (state, ct) => await state.client.GetResponseAsync(state.messages, state.options, ct),
            (client, messages, options),
            cancellationToken).AsTask();
    }

    private async Task<AnswerScore> ScoreAsync(int tier, IReadOnlyList<ChatMessage> messages, ChatOptions options, ChatResponse response, CancellationToken cancellationToken)
    {
        AnswerScoringContext context = new(messages, options, response, tier, response.ModelId ?? _tiers[tier].ModelId, ct => CallAsync(tier, messages, options, ct));
        double minimum = 1d, sum = 0d;
        string? weakest = null;
        List<string> reasons = [];
        foreach (IAnswerScorer scorer in _scorers)
        {
            AnswerScore score = await scorer.ScoreAsync(context, cancellationToken);
            sum += score.Score;
            reasons.Add(score.Reason);
            if (weakest is null || score.Score < minimum)
            {
                minimum = score.Score;
                weakest = score.Reason;
            }
        }

        double combined = _combination == CascadeScoreCombination.Minimum ? minimum : sum / _scorers.Length;
        string? reason = _combination == CascadeScoreCombination.Minimum ? weakest : string.Join("; ", reasons);
        return new AnswerScore(Math.Clamp(combined, 0d, 1d), reason ?? "no scorer");
    }

    private CascadeReport Report(CascadeRun run, int start, CostReceipt receipt)
    {
        List<CascadeAttempt> attempts = run.Attempts;
        decimal spent = 0m;
        foreach (CascadeAttempt attempt in attempts)
        {
            spent += attempt.Cost ?? 0m;
        }

        // What the strongest tier would have cost: its prices, the input the served call was billed for, and the
        // served answer's output.
        decimal? strongest = null;
        CostReceiptEntry? servedEntry = null;
        foreach (CostReceiptEntry entry in receipt.Entries)
        {
            if (entry.Kind == CostEntryKind.ProviderCall)
            {
                servedEntry = entry;
            }
        }

        string? strongestModel = _tiers[^1].ModelId;
        if (servedEntry is not null && strongestModel is not null && _catalog.TryGetPrice(strongestModel, out ModelPrice? price))
        {
            strongest = price.CalculateCost(new TokenCounts { Input = servedEntry.Tokens.Input, Output = servedEntry.Tokens.Output }).Total;
        }

        return new CascadeReport { Attempts = attempts, StartTier = start, Spent = spent, StrongestTierCost = strongest, StoppedByBudget = run.StoppedByBudget };
    }

    private static decimal? SpentSince(CostReceipt receipt, int before)
    {
        decimal total = 0m;
        var entries = receipt.Entries;
        for (int i = before; i < entries.Length; i++)
        {
            if (entries[i].Cost is not { } cost)
            {
                return null;
            }

            total += cost.Total;
        }

        return total;
    }

    private static string Describe(Exception ex) => ex switch
    {
        BrokenCircuitException => "circuit open: the tier failed repeatedly and is skipped for a while",
        TimeoutRejectedException => "timed out",
        _ => $"{ex.GetType().Name}: {ex.Message}",
    };

    private static ResiliencePipeline BuildPipeline(ModelCascadeOptions options, TimeProvider timeProvider)
    {
        ResiliencePipelineBuilder builder = new() { TimeProvider = timeProvider };
        PredicateBuilder<object> transient = new PredicateBuilder()
            .Handle<HttpRequestException>()
            .Handle<TimeoutRejectedException>()
            .Handle<TimeoutException>();
        if (options.BreakAfterFailures > 0)
        {
            _ = builder.AddCircuitBreaker(new CircuitBreakerStrategyOptions
            {
                FailureRatio = 1.0,
                MinimumThroughput = Math.Max(2, options.BreakAfterFailures),
                SamplingDuration = TimeSpan.FromMinutes(1),
                BreakDuration = options.BreakDuration,
                // A refusal by CostAware itself (a budget with no room, a model it cannot price) says nothing about the
                // tier's health: it must not open the breaker for every other caller.
                ShouldHandle = new PredicateBuilder().Handle<Exception>(static e => e is not (OperationCanceledException or CostAwareException)),
            });
        }

        if (options.MaxRetries > 0)
        {
            _ = builder.AddRetry(new RetryStrategyOptions
            {
                MaxRetryAttempts = options.MaxRetries,
                Delay = TimeSpan.FromMilliseconds(200),
                BackoffType = DelayBackoffType.Exponential,
                UseJitter = true,
                ShouldHandle = transient,
            });
        }

        if (options.TierTimeout is { } timeout)
        {
            _ = builder.AddTimeout(timeout);
        }

        return builder.Build();
    }
}

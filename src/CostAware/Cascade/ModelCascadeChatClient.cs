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
    private readonly IChatClient?[] _clients;
    private readonly IAnswerScorer[][] _scorers;
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
    /// <exception cref="ArgumentException">The options have no tiers, or a threshold that is negative or not a number.</exception>
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
            if (!(threshold >= 0d))
            {
                throw new ArgumentException(
                    $"Cascade:Tiers:{i}:AcceptThreshold ({threshold}) must be 0 or more (scores are in [0, 1]; above 1 never serves the tier).", nameof(options));
            }
        }

        _tiers = [.. copy.Tiers];
        IAnswerScorer[] shared = copy.Scorers.Count == 0 ? [StructuralAnswerScorer.Instance] : [.. copy.Scorers];
        _scorers = [.. _tiers.Select(tier => tier.Scorers.Count == 0 ? shared : [.. tier.Scorers])];
        _combination = copy.Combination;
        _router = copy.Router;
        _minimumBudgetToEscalate = copy.MinimumBudgetToEscalate;
        _catalog = priceCatalog ?? PriceCatalog.BuiltIn;
        _ledger = ledger;
        _timeProvider = timeProvider ?? TimeProvider.System;
        _logger = (loggerFactory ?? NullLoggerFactory.Instance).CreateLogger<ModelCascadeChatClient>();
        _pipelines = [.. _tiers.Select(_ => BuildPipeline(copy, _timeProvider))];

        // A tier whose calls no metering stage sees would be free on the receipt and never admitted by the budgets: the
        // cascade meters such a client itself (a metering stage outside the cascade strips the call context, so it
        // cannot do it).
        IChatClient? meteredInner = null;
        _clients = new IChatClient?[_tiers.Length];
        for (int i = 0; i < _tiers.Length; i++)
        {
            IChatClient client = _tiers[i].Client ?? innerClient;
            if (client.GetService(typeof(TokenMeteringChatClient)) is not null)
            {
                _clients[i] = client;
                continue;
            }

            Log.CascadeTierMetered(_logger, i);
            _clients[i] = _tiers[i].Client is null
                ? meteredInner ??= Meter(innerClient, loggerFactory)
                : Meter(client, loggerFactory);
        }
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
            CascadeRequest request = new(this, list, options, call);
            CascadeRun run = await RunTiersAsync(request, first, includeLast: true, cancellationToken);
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
            CascadeRequest request = new(this, messages, options, call);
            CascadeRun run = await RunTiersAsync(request, first, includeLast: false, cancellationToken);
            int last = _tiers.Length - 1;
            if (run.Served is null && request.PaidAnswer(last) is { } paid)
            {
                // A scorer already asked the last tier: its answer is served, not asked for again.
                run.Served = paid.Response;
                run.ServedCalls = (paid.From, paid.To);
                run.Attempts.Add(new CascadeAttempt { Tier = last, ModelId = paid.Response.ModelId ?? _tiers[last].ModelId, Cost = 0m, Served = true, Reason = "last tier (answer already paid for)" });
            }

            if (run.Served is { } served)
            {
                foreach (ChatResponseUpdate update in served.ToChatResponseUpdates())
                {
                    yield return update;
                }
            }
            else
            {
                int before = receipt.Entries.Length;
                string? modelId = null;
                await foreach (ChatResponseUpdate update in _clients[last]!.GetStreamingResponseAsync(messages, TierOptions(last, options, call), cancellationToken))
                {
                    modelId ??= update.ModelId;
                    yield return update;
                }

                run.ServedCalls = (before, receipt.Entries.Length);
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

    // Every tier's outcome on one labelled request, for calibration: each tier is asked once (a scorer's question to
    // another tier shares its answer, as in a real run, and is charged to the tier whose scorer asked), scored by its
    // scorers whatever its threshold (the last tier is not scored), and graded.
    internal async Task<CascadeTierOutcome[]> CollectOutcomesAsync(
        IReadOnlyList<ChatMessage> messages, ChatOptions? options, Func<ChatResponse, int, double> grade, CancellationToken cancellationToken)
    {
        CostCallContext call = CostCallContext.FindOrOpen(options, _timeProvider, out bool owned);
        try
        {
            CascadeRequest request = new(this, messages, options, call);
            CascadeTierOutcome[] outcomes = new CascadeTierOutcome[_tiers.Length];
            for (int tier = 0; tier < _tiers.Length; tier++)
            {
                int before = call.Receipt.Entries.Length;
                ChatResponse response = (await request.AnswerAsync(tier, cancellationToken)).Response;
                double score = tier == _tiers.Length - 1 ? 1d : (await ScoreAsync(request, tier, response, cancellationToken, always: true)).Score;
                decimal cost = SpentSince(call.Receipt, before)
                    ?? throw new InvalidOperationException($"Tier {tier}'s calls could not be priced: add its model to the price catalog, or report the cost with CostAwareProperties.ReportedCost.");
                double quality = grade(response, tier);
                if (!(quality >= 0d && quality <= 1d))
                {
                    throw new InvalidOperationException($"The grade of tier {tier}'s answer is {quality}; grades must be in [0, 1].");
                }

                outcomes[tier] = new CascadeTierOutcome(score, quality, cost);
            }

            return outcomes;
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
    // regardless when it is included, and left to the caller (to stream) when it is not. A tier whose answer a scorer
    // already asked for is not asked again.
    private async Task<CascadeRun> RunTiersAsync(CascadeRequest request, int first, bool includeLast, CancellationToken cancellationToken)
    {
        CostReceipt receipt = request.Call.Receipt;
        CascadeRun run = new();
        (ChatResponse Response, TierCall Call)? inHand = null;
        int end = includeLast ? _tiers.Length : _tiers.Length - 1;
        for (int tier = first; tier < end && run.Served is null; tier++)
        {
            int before = receipt.Entries.Length;
            bool last = tier == _tiers.Length - 1;
            TierCall called;
            try
            {
                called = await request.AnswerAsync(tier, cancellationToken);
            }
            catch (BudgetExceededException refused) when (inHand is { } held)
            {
                // The budgets have no room for a dearer tier: the answer in hand is served rather than none.
                run.Served = held.Response;
                run.ServedCalls = (held.Call.From, held.Call.To);
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

            ChatResponse response = called.Response;
            string paidNote = called.From < before ? " (answer already paid for)" : string.Empty;
            if (last)
            {
                run.Served = response;
                run.ServedCalls = (called.From, called.To);
                run.Attempts.Add(new CascadeAttempt { Tier = tier, ModelId = response.ModelId ?? _tiers[tier].ModelId, Cost = SpentSince(receipt, before), Served = true, Reason = "last tier" + paidNote });
                break;
            }

            AnswerScore score = await ScoreAsync(request, tier, response, cancellationToken);
            bool accepted = score.Score >= _tiers[tier].AcceptThreshold;
            if (!accepted && await BudgetTooLowAsync(request.Call, cancellationToken) is { } left)
            {
                // Escalating would spend money the budgets no longer have: the answer in hand is served.
                accepted = true;
                run.StoppedByBudget = true;
                score = new AnswerScore(score.Score, $"{score.Reason}; served anyway: the budget has {left:0.######} left") { Answer = score.Answer };
            }

            run.Attempts.Add(new CascadeAttempt
            {
                Tier = tier,
                ModelId = response.ModelId ?? _tiers[tier].ModelId,
                Cost = SpentSince(receipt, before),
                Score = score.Score,
                Reason = score.Reason + paidNote,
                Served = accepted,
            });
            if (accepted)
            {
                // A scorer may serve an answer it already paid for (a majority of samples) in place of the tier's own.
                run.Served = score.Answer ?? response;
                run.ServedCalls = (called.From, called.To);
            }
            else
            {
                inHand = (response, called);
                Log.CascadeEscalated(_logger, tier, score.Score, _tiers[tier].AcceptThreshold, score.Reason);
            }
        }

        return run;
    }

    // The answers of one request's tiers, each asked at most once: by the cascade when it reaches the tier, or earlier
    // by a scorer comparing with it; a later use gets the answer already paid for (or the same failure).
    private sealed class CascadeRequest(ModelCascadeChatClient owner, IReadOnlyList<ChatMessage> messages, ChatOptions? options, CostCallContext call)
    {
        private readonly Dictionary<int, Task<TierCall>> _answers = [];

        public IReadOnlyList<ChatMessage> Messages => messages;

        public ChatOptions? Options => options;

        public CostCallContext Call => call;

        public async Task<TierCall> AnswerAsync(int tier, CancellationToken cancellationToken)
        {
            TaskCompletionSource<TierCall>? mine = null;
            Task<TierCall> answer;
            lock (_answers)
            {
                if (!_answers.TryGetValue(tier, out answer!))
                {
                    // Claimed here, called outside the lock: a second asker waits for this call rather than making its own.
                    mine = new TaskCompletionSource<TierCall>(TaskCreationOptions.RunContinuationsAsynchronously);
                    answer = mine.Task;
                    _answers[tier] = answer;
                }
            }

            if (mine is not null)
            {
                try
                {
                    mine.SetResult(await owner.CallTierAsync(tier, messages, owner.TierOptions(tier, options, call), call.Receipt, cancellationToken));
                }
                catch (OperationCanceledException ex)
                {
                    _ = mine.TrySetCanceled(ex.CancellationToken);
                }
                catch (Exception ex)
                {
                    _ = mine.TrySetException(ex);
                }
            }

#pragma warning disable VSTHRD003 // This request's own call for the tier, made above or by an earlier asker.
            return await answer;
#pragma warning restore VSTHRD003
        }

        // The answer of a tier a scorer already asked, when it succeeded.
        public TierCall? PaidAnswer(int tier)
        {
            lock (_answers)
            {
#pragma warning disable VSTHRD002 // Read only once the task has completed successfully.
                return _answers.TryGetValue(tier, out Task<TierCall>? answer) && answer.IsCompletedSuccessfully ? answer.Result : null;
#pragma warning restore VSTHRD002
            }
        }
    }

    // One tier's answer, and where its call's entries are on the receipt (From to To, exclusive).
    private sealed record class TierCall(ChatResponse Response, int From, int To);

    private sealed class CascadeRun
    {
        public ChatResponse? Served { get; set; }

        // Where the served tier's own call is on the receipt (From to To, exclusive).
        public (int From, int To)? ServedCalls { get; set; }

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

    private async Task<TierCall> CallTierAsync(int tier, IReadOnlyList<ChatMessage> messages, ChatOptions options, CostReceipt receipt, CancellationToken cancellationToken)
    {
        int from = receipt.Entries.Length;
        ChatResponse response = await CallAsync(tier, messages, options, cancellationToken);
        return new TierCall(response, from, receipt.Entries.Length);
    }

    private Task<ChatResponse> CallAsync(int tier, IReadOnlyList<ChatMessage> messages, ChatOptions options, CancellationToken cancellationToken) =>
        _pipelines[tier].ExecuteAsync(
            static async (state, ct) => await state.client.GetResponseAsync(state.messages, state.options, ct),
            (client: _clients[tier]!, messages, options),
            cancellationToken).AsTask();

    private TokenMeteringChatClient Meter(IChatClient client, ILoggerFactory? loggerFactory) =>
        new TokenMeteringChatClient(client, _catalog, ledger: null, tokenEstimator: null, new TokenMeteringOptions { RecordToLedger = false }, _timeProvider, loggerFactory);

    // The tier's scorers' verdict, combined. A threshold of 0 serves without scoring (nothing is paid for it); a scorer
    // that fails is no verdict, and the request escalates.
    private async Task<AnswerScore> ScoreAsync(CascadeRequest request, int tier, ChatResponse response, CancellationToken cancellationToken, bool always = false)
    {
        if (_tiers[tier].AcceptThreshold <= 0d && !always)
        {
            return new AnswerScore(1d, "served without scoring (threshold 0)");
        }

        ChatOptions options = TierOptions(tier, request.Options, request.Call);
        AnswerScoringContext context = new(
            request.Messages,
            options,
            response,
            tier,
            response.ModelId ?? _tiers[tier].ModelId,
            (temperature, ct) => CallAsync(tier, request.Messages, temperature is null ? options : WithTemperature(options, temperature.Value), ct),
            async (other, ct) =>
            {
                if ((uint)other >= (uint)_tiers.Length)
                {
                    throw new ArgumentOutOfRangeException(nameof(other), other, $"The cascade has tiers 0 to {_tiers.Length - 1}.");
                }

                return (await request.AnswerAsync(other, ct)).Response;
            });
        IAnswerScorer[] scorers = _scorers[tier];
        double minimum = 1d, sum = 0d;
        string? weakest = null;
        ChatResponse? answer = null;
        List<string> reasons = [];
        foreach (IAnswerScorer scorer in scorers)
        {
            AnswerScore score;
            try
            {
                score = await scorer.ScoreAsync(context, cancellationToken);
            }
            catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
            {
                Log.CascadeScoringFailed(_logger, tier, ex);
                return new AnswerScore(0d, $"scoring failed: {Describe(ex)}");
            }

            sum += score.Score;
            reasons.Add(score.Reason);
            answer ??= score.Answer;
            if (weakest is null || score.Score < minimum)
            {
                minimum = score.Score;
                weakest = score.Reason;
            }
        }

        double combined = _combination == CascadeScoreCombination.Minimum ? minimum : sum / scorers.Length;
        string? reason = _combination == CascadeScoreCombination.Minimum ? weakest : string.Join("; ", reasons);
        return new AnswerScore(Math.Clamp(combined, 0d, 1d), reason ?? "no scorer") { Answer = answer };
    }

    private static ChatOptions WithTemperature(ChatOptions options, float temperature)
    {
        ChatOptions copy = options.Clone();
        copy.Temperature = temperature;
        return copy;
    }

    private CascadeReport Report(CascadeRun run, int start, CostReceipt receipt)
    {
        List<CascadeAttempt> attempts = run.Attempts;
        decimal spent = 0m;
        foreach (CascadeAttempt attempt in attempts)
        {
            spent += attempt.Cost ?? 0m;
        }

        // What the strongest tier would have cost: its prices, the input the served tier's own call was billed for,
        // and that call's output (never a judge's or a sample's call, which come after it on the receipt).
        decimal? strongest = null;
        CostReceiptEntry? servedEntry = null;
        if (run.ServedCalls is { } served)
        {
            var entries = receipt.Entries;
            for (int i = served.From; i < served.To && i < entries.Length; i++)
            {
                if (entries[i].Kind == CostEntryKind.ProviderCall)
                {
                    servedEntry = entries[i];
                }
            }
        }

        string? strongestModel = _tiers[^1].ModelId;
        if (servedEntry is not null && strongestModel is not null && _catalog.TryGetPrice(strongestModel, out ModelPrice? price))
        {
            strongest = price.CalculateCost(new TokenCounts { Input = servedEntry.Tokens.Input, Output = servedEntry.Tokens.Output }).Total;
            if (servedEntry.CostSource == CostSource.Reported && string.Equals(servedEntry.ModelId, strongestModel, StringComparison.OrdinalIgnoreCase) && servedEntry.Cost is { } billed)
            {
                // The strongest tier served, with the cost its provider reported: that is what it cost.
                strongest = billed.Total;
            }
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

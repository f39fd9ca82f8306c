using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Text;
using CostAware.Internal;
using CostAware.Shared;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace CostAware;

/// <summary>
/// The innermost CostAware stage: meters every real provider call, prices it from the catalog, and attaches a
/// <see cref="CostReceipt"/> to the response (and to a final streaming update).
/// </summary>
/// <remarks>
/// <para>
/// Tokens come from the provider's reported usage. When a provider reports none, input and output are estimated with
/// the <see cref="ITokenEstimator"/> and the entry is marked <see cref="CostReceiptEntry.IsEstimated"/>.
/// </para>
/// <para>
/// The cost scope comes from <see cref="CostAwareChatOptionsExtensions.WithCostScope"/> and the ambient scope. An outer
/// CostAware stage passes its <see cref="CostCallContext"/> down on the options; then this stage adds to its receipt and
/// leaves recording to that stage, and asks the budgets that admitted the call for room before each provider call
/// (<see cref="CostCallContext.AdmitProviderCallAsync"/>), so that no provider call escapes them. CostAware's own keys
/// are removed from the options before the provider sees them; the caller's options are never mutated.
/// </para>
/// <para>A stream is metered exactly once, when it ends, fails or is abandoned by its consumer. This type is thread-safe.</para>
/// </remarks>
public sealed class TokenMeteringChatClient : DelegatingChatClient
{
    private const string StageName = "metering";

    private readonly CallPricer _pricer;
    private readonly ICostLedger? _ledger;
    private readonly ITokenEstimator _estimator;
    private readonly TimeProvider _timeProvider;
    private readonly ILogger _logger;
    private readonly CostAwareMetrics _metrics;
    private readonly bool _recordToLedger;
    private readonly bool _includeScopeInMetrics;
    private readonly Func<OnMeteredArguments, ValueTask>? _onMetered;
    private ChatClientMetadata? _metadata;
    private bool _warnedMisplaced;

    /// <summary>Initializes a new instance of the <see cref="TokenMeteringChatClient"/> class.</summary>
    /// <param name="innerClient">The provider client to meter.</param>
    /// <param name="priceCatalog">The prices; <see langword="null"/> uses <see cref="PriceCatalog.BuiltIn"/>.</param>
    /// <param name="ledger">Where receipts are recorded; <see langword="null"/> records nowhere.</param>
    /// <param name="tokenEstimator">The estimator for calls without reported usage; <see langword="null"/> uses <see cref="TiktokenTokenEstimator.Default"/>.</param>
    /// <param name="options">The stage's options; <see langword="null"/> uses the defaults.</param>
    /// <param name="timeProvider">The clock; <see langword="null"/> uses <see cref="TimeProvider.System"/>.</param>
    /// <param name="loggerFactory">The logger factory; <see langword="null"/> logs nothing.</param>
    /// <exception cref="ArgumentNullException"><paramref name="innerClient"/> is <see langword="null"/>.</exception>
    public TokenMeteringChatClient(
        IChatClient innerClient,
        IPriceCatalog? priceCatalog = null,
        ICostLedger? ledger = null,
        ITokenEstimator? tokenEstimator = null,
        TokenMeteringOptions? options = null,
        TimeProvider? timeProvider = null,
        ILoggerFactory? loggerFactory = null)
        : this(innerClient, priceCatalog, ledger, tokenEstimator, options, timeProvider, loggerFactory, metrics: null)
    {
    }

    internal TokenMeteringChatClient(
        IChatClient innerClient,
        IPriceCatalog? priceCatalog,
        ICostLedger? ledger,
        ITokenEstimator? tokenEstimator,
        TokenMeteringOptions? options,
        TimeProvider? timeProvider,
        ILoggerFactory? loggerFactory,
        CostAwareMetrics? metrics)
        : base(innerClient)
    {
        options ??= new TokenMeteringOptions();
        _logger = (loggerFactory ?? NullLoggerFactory.Instance).CreateLogger<TokenMeteringChatClient>();
        _pricer = new CallPricer(priceCatalog ?? PriceCatalog.BuiltIn, _logger);
        _ledger = ledger;
        _estimator = tokenEstimator ?? TiktokenTokenEstimator.Default;
        _timeProvider = timeProvider ?? TimeProvider.System;
        _metrics = metrics ?? CostAwareMetrics.Shared;
        _recordToLedger = options.RecordToLedger;
        _includeScopeInMetrics = options.IncludeScopeInMetrics;
        _onMetered = options.OnMetered;
    }

    /// <inheritdoc />
    public override async Task<ChatResponse> GetResponseAsync(
        IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(messages);
        MessageChecks.ThrowIfInvalid(messages, nameof(messages));
        CallContext call = Prepare(options);
        bool adopted = false;
        try
        {
            // Every real provider call is admitted by the budgets that hold the call, before it is paid for.
            using IDisposable lease = await AdmitAsync(call, messages, cancellationToken);
            ChatResponse response = await base.GetResponseAsync(messages, call.Forwarded, cancellationToken);
            CostReceipt? inner = response.GetCostReceipt();
            (response.AdditionalProperties ??= [])[CostAwareProperties.Receipt] = call.Receipt;
            if (inner is { Entries.Length: > 0 } && !ReferenceEquals(inner, call.Receipt))
            {
                adopted = true;
                Adopt(call, inner);
            }
            else
            {
                await SettleAsync(
                    call, messages, response.Usage, response.ModelId, response, streamedText: null, CallPricer.ReportedCost(response.AdditionalProperties), cancellationToken);
            }

            return response;
        }
        finally
        {
            await FinishAsync(call, record: !adopted);
        }
    }

    /// <inheritdoc />
    public override IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(
        IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(messages);
        MessageChecks.ThrowIfInvalid(messages, nameof(messages));
        return StreamAsync(messages, options, cancellationToken);
    }

    private ChatClientMetadata Metadata => _metadata ??= InnerClient.GetService<ChatClientMetadata>() ?? new ChatClientMetadata();

    private async IAsyncEnumerable<ChatResponseUpdate> StreamAsync(
        IEnumerable<ChatMessage> messages, ChatOptions? options, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        CallContext call = Prepare(options);
        IDisposable? lease = null;
        UsageDetails? usage = null;
        StringBuilder? text = null;
        string? modelId = null;
        string? responseId = null;
        string? conversationId = null;
        bool started = false;
        CostReceipt? inner = null;
        object? reported = null;

        IAsyncEnumerator<ChatResponseUpdate>? updates = null;
        try
        {
            lease = await AdmitAsync(call, messages, cancellationToken);
            updates = base.GetStreamingResponseAsync(messages, call.Forwarded, cancellationToken).GetAsyncEnumerator(cancellationToken);
            while (await updates.MoveNextAsync())
            {
                ChatResponseUpdate update = updates.Current;
                started = true;
                if (update.AdditionalProperties is not null && update.GetCostReceipt() is { } innerReceipt && !ReferenceEquals(innerReceipt, call.Receipt))
                {
                    // Another CostAware stage inside this one already accounted for the stream; its receipt is adopted
                    // below, and this stage's own receipt update replaces its.
                    inner = innerReceipt;
                    continue;
                }

                modelId ??= update.ModelId;
                responseId ??= update.ResponseId;
                conversationId ??= update.ConversationId;
                reported ??= CallPricer.ReportedCost(update.AdditionalProperties);
                IList<AIContent> contents = update.Contents;
                for (int i = 0; i < contents.Count; i++)
                {
                    switch (contents[i])
                    {
                        case UsageContent u:
                            (usage ??= new UsageDetails()).Add(u.Details);
                            break;
                        case TextContent t when t.Text is { Length: > 0 }:
                            (text ??= new StringBuilder()).Append(t.Text);
                            break;
                    }
                }

                yield return update;
            }
        }
        finally
        {
            // Runs on completion, on a provider error, and when the consumer stops early: the tokens produced so far
            // were paid for either way, so they are metered exactly once.
            if (updates is not null)
            {
                await updates.DisposeAsync();
            }

            // A stream that failed before its first update was refused by the provider, like a non-streaming call
            // that threw, and is not metered; one that produced anything is.
            bool adopted = inner is { Entries.Length: > 0 };
            if (adopted)
            {
                Adopt(call, inner!);
            }
            else if (started)
            {
                await SettleAsync(call, messages, usage, modelId, response: null, text, reported, CancellationToken.None);
            }

            lease?.Dispose();
            await FinishAsync(call, record: !adopted);
        }

        yield return new ChatResponseUpdate
        {
            Role = ChatRole.Assistant,
            ModelId = modelId,
            ResponseId = responseId,
            ConversationId = conversationId,
            AdditionalProperties = new() { [CostAwareProperties.Receipt] = call.Receipt },
        };
    }

    // One path for both shapes of call: the reported usage wins; without it, input and output are estimated (the
    // output from the response text, or from the text streamed so far). A cost the response reported for the call wins
    // over the catalog's. Only a non-streaming call may throw for an unknown model: a stream has already been delivered
    // when it settles.
    private async ValueTask SettleAsync(
        CallContext call,
        IEnumerable<ChatMessage> messages,
        UsageDetails? usage,
        string? responseModel,
        ChatResponse? response,
        StringBuilder? streamedText,
        object? reportedCost,
        CancellationToken cancellationToken)
    {
        string? modelId = responseModel ?? call.RequestModel;
        bool estimated = UsageReader.ReadOrEstimate(
            usage, _estimator, messages, call.Forwarded, modelId, response?.Text ?? streamedText?.ToString(), out TokenCounts tokens, out bool widened);
        if (estimated)
        {
            Log.UsageEstimated(_logger, modelId);
        }
        else if (widened)
        {
            Log.UsageWidened(_logger, modelId);
        }

        bool isStreaming = response is null;
        decimal? reported = _pricer.ReadReportedCost(reportedCost, modelId);
        CostReceiptEntry entry = CallPricer.WithReportedCost(
            _pricer.Price(CostEntryKind.ProviderCall, modelId, Metadata.ProviderName, tokens, estimated, batch: false, _timeProvider.GetUtcNow(), StageName, mayThrow: !isStreaming && reported is null),
            reported);
        await CompleteAsync(call, entry, isStreaming, cancellationToken);
    }

    // This stage sits outside another CostAware stage (a cache, or a second metering stage), whose response already
    // carries a receipt: metering the call again would charge a cache hit as an estimated provider call. The inner
    // entries are taken over instead, and the misplacement is reported once.
    // The inner stage opened, and recorded, its own receipt: its entries are copied onto this one for the caller, and
    // this receipt is not recorded again. An inner receipt with no entries (a cache that forwarded a miss with no
    // metering inside it) accounts for nothing, so such a call is metered here as usual.
    private void Adopt(CallContext call, CostReceipt inner)
    {
        if (!_warnedMisplaced)
        {
            _warnedMisplaced = true;
            Log.MeteringOutsideStage(_logger);
        }

        foreach (CostReceiptEntry entry in inner.Entries)
        {
            call.Receipt.Add(entry);
        }
    }

    private CallContext Prepare(ChatOptions? options)
    {
        // The receipt and scope come from the context an outer stage opened, or a new one; nothing else a caller puts
        // under CostAware's keys is read. The provider sees the caller's keys only.
        CostCallContext context = CostCallContext.FindOrOpen(options, _timeProvider, out bool owned);
        ChatOptions? forwarded = OwnKeys.Without(options);

        string? requestModel = options?.ModelId ?? Metadata.DefaultModelId;
        if (_pricer.Catalog.UnknownModelPolicy == UnknownModelPolicy.Throw && !_pricer.IsPriced(requestModel))
        {
            // Refused before the provider is paid: a call that cannot be priced is not made.
            throw CallPricer.UnknownModel(requestModel);
        }

        return new CallContext(forwarded, context, owned, requestModel);
    }

    private static ValueTask<IDisposable> AdmitAsync(CallContext call, IEnumerable<ChatMessage> messages, CancellationToken cancellationToken) =>
        call.Context.Budgets.IsEmpty
            ? new ValueTask<IDisposable>(NoLease.Instance)
            : call.Context.AdmitProviderCallAsync(messages, call.Forwarded, call.RequestModel, batch: false, cancellationToken);

    // A context this stage opened is recorded (once, when this stage metered something: an adopted receipt was recorded
    // by the stage that opened it) and closed when the call is over.
    private async ValueTask FinishAsync(CallContext call, bool record)
    {
        if (!call.Owned)
        {
            return;
        }

        if (record && _recordToLedger && _ledger is not null && call.Receipt.Entries.Length > 0)
        {
            await LedgerRecording.RecordAsync(_ledger, call.Receipt, _logger);
        }

        call.Context.Close();
    }

    private async ValueTask CompleteAsync(CallContext call, CostReceiptEntry entry, bool isStreaming, CancellationToken cancellationToken)
    {
        CostReceipt receipt = call.Receipt;
        receipt.Add(entry);

        if (_metrics.Enabled)
        {
            _metrics.Record(entry, receipt.Scope, _includeScopeInMetrics);
        }

        if (Activity.Current is { IsAllDataRequested: true } activity)
        {
            _ = activity.SetTag("costaware.cost", entry.Cost is { } cost ? (double)cost.Total : null);
            _ = activity.SetTag("costaware.estimated", entry.IsEstimated);
        }

        if (_onMetered is not null)
        {
            try
            {
                await _onMetered(new OnMeteredArguments(entry, receipt, isStreaming, cancellationToken));
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                Log.CallbackFailed(_logger, receipt.Id, ex);
            }
        }
    }

    private readonly record struct CallContext(ChatOptions? Forwarded, CostCallContext Context, bool Owned, string? RequestModel)
    {
        public CostReceipt Receipt => Context.Receipt;
    }

    private sealed class NoLease : IDisposable
    {
        public static readonly NoLease Instance = new();

        public void Dispose()
        {
        }
    }
}

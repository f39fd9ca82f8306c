using System.Runtime.CompilerServices;
using System.Text.Json;
using CostAware.Internal;
using CostAware.Shared;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Caching.Hybrid;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace CostAware;

/// <summary>
/// Answers a request that was answered before from a <see cref="HybridCache"/> (memory, plus a distributed store such
/// as Redis when one is configured) instead of paying the provider again.
/// </summary>
/// <remarks>
/// <para>
/// The key is a hash of everything that changes the answer: the messages, the effective model and provider, the
/// instructions, tools and tool mode, the response format, the sampling parameters and any provider-specific
/// options; see <c>docs/prompt-cache.md</c>. Entries are partitioned by the cost scope's tenant: one tenant never
/// receives another's answer. A request may read and write a shared partition instead, if the options list it.
/// </para>
/// <para>
/// Only complete answers are stored: never an error, a cancelled or abandoned stream, an answer cut off by length or
/// a content filter, or one that asks for tool calls (unless <see cref="PromptCacheOptions.CacheToolCallResponses"/>).
/// Concurrent identical misses make one provider call. A hit adds a <see cref="CostEntryKind.CacheHit"/> entry to the
/// receipt with the money avoided at current prices, and spends nothing; its response carries no usage.
/// </para>
/// <para>
/// Requests that carry a <see cref="ChatOptions.ConversationId"/> or a continuation token are passed through: their
/// answer depends on state held by the provider. This type is thread-safe.
/// </para>
/// </remarks>
public sealed class PromptCacheChatClient : DelegatingChatClient
{
    private const string StageName = "prompt-cache";
    private const string CacheName = "prompt";

    private readonly HybridCache _cache;
    private readonly PromptCacheKeys _keys;
    private readonly CallPricer _pricer;
    private readonly ICostLedger? _ledger;
    private readonly TimeProvider _timeProvider;
    private readonly ILogger _logger;
    private readonly CostAwareMetrics _metrics;
    private readonly bool _coalesce;
    private readonly bool _allowToolCalls;
    private readonly bool _recordToLedger;
    private readonly CacheTelemetry _telemetry;
    private ChatClientMetadata? _metadata;

    /// <summary>Initializes a new instance of the <see cref="PromptCacheChatClient"/> class.</summary>
    /// <param name="innerClient">The client whose answers are cached.</param>
    /// <param name="cache">
    /// The cache. Register it with <c>AddCostAware()</c>, which also registers the serializer for stored answers;
    /// add an <c>IDistributedCache</c> (for example with <c>AddCostAwareRedis</c>) for a second level shared by every node.
    /// </param>
    /// <param name="options">The stage's options; <see langword="null"/> uses the defaults.</param>
    /// <param name="priceCatalog">Prices for the money avoided; <see langword="null"/> uses <see cref="PriceCatalog.BuiltIn"/>.</param>
    /// <param name="ledger">Where receipts this stage opens are recorded; <see langword="null"/> records nowhere.</param>
    /// <param name="timeProvider">The clock; <see langword="null"/> uses <see cref="TimeProvider.System"/>.</param>
    /// <param name="loggerFactory">The logger factory; <see langword="null"/> logs nothing.</param>
    /// <exception cref="ArgumentNullException"><paramref name="innerClient"/> or <paramref name="cache"/> is <see langword="null"/>.</exception>
    /// <exception cref="Microsoft.Extensions.Options.OptionsValidationException"><paramref name="options"/> is not valid; the message names each field.</exception>
    public PromptCacheChatClient(
        IChatClient innerClient,
        HybridCache cache,
        PromptCacheOptions? options = null,
        IPriceCatalog? priceCatalog = null,
        ICostLedger? ledger = null,
        TimeProvider? timeProvider = null,
        ILoggerFactory? loggerFactory = null)
        : this(innerClient, cache, options, priceCatalog, ledger, timeProvider, loggerFactory, metrics: null)
    {
    }

    internal PromptCacheChatClient(
        IChatClient innerClient,
        HybridCache cache,
        PromptCacheOptions? options,
        IPriceCatalog? priceCatalog,
        ICostLedger? ledger,
        TimeProvider? timeProvider,
        ILoggerFactory? loggerFactory,
        CostAwareMetrics? metrics)
        : base(innerClient)
    {
        ArgumentNullException.ThrowIfNull(cache);
        options ??= new PromptCacheOptions();
        PromptCacheOptionsValidation.ThrowIfInvalid(options);

        _cache = cache;
        _keys = new PromptCacheKeys(options);
        _logger = (loggerFactory ?? NullLoggerFactory.Instance).CreateLogger<PromptCacheChatClient>();
        _pricer = new CallPricer(priceCatalog ?? PriceCatalog.BuiltIn, _logger);
        _ledger = ledger;
        _timeProvider = timeProvider ?? TimeProvider.System;
        _metrics = metrics ?? CostAwareMetrics.Shared;
        _coalesce = options.CoalesceStreamingUpdates;
        _allowToolCalls = options.CacheToolCallResponses;
        _recordToLedger = options.RecordToLedger;
        _telemetry = new CacheTelemetry(CacheName, _metrics, options.IncludeScopeInMetrics);

    }

    /// <summary>Gets the key a request would be stored under, or <see langword="null"/> when it would not be cached.</summary>
    /// <param name="messages">The request's messages.</param>
    /// <param name="options">The request's options, including its cost scope and cache control.</param>
    /// <returns>The key, for <see cref="RemoveAsync(string, CancellationToken)"/>; or <see langword="null"/>.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="messages"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException">The request names a shared partition that the options do not list.</exception>
    /// <remarks>The cost scope is resolved as for a call: the ambient scope, overridden by the one on <paramref name="options"/>.</remarks>
    public string? GetCacheKey(IEnumerable<ChatMessage> messages, ChatOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(messages);
        MessageChecks.ThrowIfInvalid(messages, nameof(messages));
        CacheControl? control = options.GetCacheControl();
        return CacheTelemetry.IsBypassed(options, control) ? null : _keys.TryBuild(messages, options, Metadata, control, options.ResolveCostScope(), out _);
    }

    /// <summary>Removes one stored answer, from memory and from the distributed store.</summary>
    /// <param name="key">A key from <see cref="GetCacheKey"/>.</param>
    /// <param name="cancellationToken">The token to monitor for cancellation requests.</param>
    /// <returns>A task that completes when the entry is removed.</returns>
    /// <exception cref="ArgumentException"><paramref name="key"/> is <see langword="null"/> or empty.</exception>
    public ValueTask RemoveAsync(string key, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(key);
        return _cache.RemoveAsync(key, cancellationToken);
    }

    /// <summary>Invalidates every answer stored for a tenant.</summary>
    /// <param name="tenant">The tenant, as in <see cref="CostScope.Tenant"/>; <see langword="null"/> for requests without one.</param>
    /// <param name="cancellationToken">The token to monitor for cancellation requests.</param>
    /// <returns>A task that completes when the invalidation is recorded.</returns>
    /// <remarks>
    /// Takes effect at once in this process and in the distributed store. Other processes may serve an entry from
    /// their own memory until it expires there (<see cref="PromptCacheOptions.LocalTimeToLive"/>): HybridCache has no
    /// cross-node invalidation messages.
    /// </remarks>
    public ValueTask InvalidateTenantAsync(string? tenant, CancellationToken cancellationToken = default) =>
        _cache.RemoveByTagAsync(_keys.PartitionTag(tenant, shared: null), cancellationToken);

    /// <summary>Invalidates every answer stored in a shared partition.</summary>
    /// <param name="name">The shared partition's name.</param>
    /// <param name="cancellationToken">The token to monitor for cancellation requests.</param>
    /// <returns>A task that completes when the invalidation is recorded.</returns>
    /// <exception cref="ArgumentException"><paramref name="name"/> is <see langword="null"/> or empty.</exception>
    /// <remarks>The same cross-process caveat as <see cref="InvalidateTenantAsync"/> applies.</remarks>
    public ValueTask InvalidateSharedPartitionAsync(string name, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        return _cache.RemoveByTagAsync(_keys.PartitionTag(tenant: null, name), cancellationToken);
    }

    /// <summary>Invalidates every answer this stage stored (its key prefix), leaving the app's other cache entries alone.</summary>
    /// <param name="cancellationToken">The token to monitor for cancellation requests.</param>
    /// <returns>A task that completes when the invalidation is recorded.</returns>
    /// <remarks>The same cross-process caveat as <see cref="InvalidateTenantAsync"/> applies.</remarks>
    public ValueTask InvalidateAllAsync(CancellationToken cancellationToken = default) =>
        _cache.RemoveByTagAsync(_keys.AllTag, cancellationToken);

    /// <inheritdoc />
    public override async Task<ChatResponse> GetResponseAsync(
        IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(messages);
        MessageChecks.ThrowIfInvalid(messages, nameof(messages));
        PromptCacheRequest? request = Prepare(messages, options);
        if (request is null)
        {
            return await base.GetResponseAsync(messages, options, cancellationToken);
        }

        try
        {
            return request.Context.IsCacheOnly
                ? await CacheOnlyAsync(messages, request, cancellationToken)
                : await LookupAsync(messages, request, cancellationToken);
        }
        finally
        {
            await FinishAsync(request);
        }
    }

    /// <inheritdoc />
    public override IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(
        IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(messages);
        MessageChecks.ThrowIfInvalid(messages, nameof(messages));
        PromptCacheRequest? request = Prepare(messages, options);
        return request is null
            ? base.GetStreamingResponseAsync(messages, options, cancellationToken)
            : StreamAsync(messages, request, cancellationToken);
    }

    private ChatClientMetadata Metadata => _metadata ??= InnerClient.GetService<ChatClientMetadata>() ?? new ChatClientMetadata();

    private async Task<ChatResponse> LookupAsync(IEnumerable<ChatMessage> messages, PromptCacheRequest request, CancellationToken cancellationToken)
    {
        PromptCacheMiss miss = new(this, messages, request, streaming: false);
        PromptCacheEntry entry;
        try
        {
            entry = await _cache.GetOrCreateAsync(
                request.Key, miss, static (m, ct) => m.Owner.FetchAsync(m, ct), request.EntryOptions, request.Tags, cancellationToken);
        }
        catch (PromptCacheNotStoredException ex) when (ex.Miss == miss)
        {
            return AttachReceipt(request, miss.Response!);
        }
        catch (PromptCacheNotStoredException)
        {
            // The answer this call waited for was not fit to share: it asks for its own.
            return await ForwardAsync(messages, request, store: false, cancellationToken);
        }
        finally
        {
            miss.Leave();
        }

        if (miss.HasStarted)
        {
            return AttachReceipt(request, miss.Response!);
        }

        ChatResponse? hit = TryRehydrate(entry);
        if (hit is null)
        {
            return await ForwardAsync(messages, request, store: true, cancellationToken);
        }

        SettleHit(request, entry);
        return AttachReceipt(request, hit);
    }

    // A budget admitted the call for cache hits only: the entry is read without starting a miss, and without one the
    // call fails with the budget's refusal before any provider is asked.
    private async Task<ChatResponse> CacheOnlyAsync(IEnumerable<ChatMessage> messages, PromptCacheRequest request, CancellationToken cancellationToken)
    {
        PromptCacheEntry? entry = await ReadOnlyAsync(request, cancellationToken);
        ChatResponse? hit = entry is null ? null : TryRehydrate(entry);
        if (hit is null)
        {
            await RefuseProviderCallAsync(messages, request, cancellationToken);
            return await ForwardAsync(messages, request, store: true, cancellationToken);
        }

        SettleHit(request, entry!);
        return AttachReceipt(request, hit);
    }

    private ValueTask<PromptCacheEntry?> ReadOnlyAsync(PromptCacheRequest request, CancellationToken cancellationToken)
    {
        HybridCacheEntryOptions readOnly = new()
        {
            Expiration = request.EntryOptions.Expiration,
            LocalCacheExpiration = request.EntryOptions.LocalCacheExpiration,
            Flags = (request.EntryOptions.Flags ?? HybridCacheEntryFlags.None) | HybridCacheEntryFlags.DisableUnderlyingData,
        };
        return _cache.GetOrCreateAsync<PromptCacheEntry?>(request.Key, static _ => ValueTask.FromResult<PromptCacheEntry?>(null), readOnly, request.Tags, cancellationToken);
    }

    // The budgets holding a cache-only call refuse any provider call; asking them is how the refusal is raised.
    private async ValueTask RefuseProviderCallAsync(IEnumerable<ChatMessage> messages, PromptCacheRequest request, CancellationToken cancellationToken)
    {
        RecordLookup("miss", request.Receipt.Scope, avoided: null);
        await CacheSettlement.RefuseProviderCallAsync(request.Context, messages, request.Options, Metadata.DefaultModelId, cancellationToken);
    }

    // A context this stage opened is recorded and closed once no work charges it any more.
    private ValueTask FinishAsync(PromptCacheRequest request) =>
        request.OwnsReceipt ? CacheSettlement.CompleteAsync(request.Context, _recordToLedger ? _ledger : null, _logger) : ValueTask.CompletedTask;

    private PromptCacheRequest? Prepare(IEnumerable<ChatMessage> messages, ChatOptions? options)
    {
        CacheControl? control = options.GetCacheControl();
        if (CacheTelemetry.IsBypassed(options, control))
        {
            if (_metrics.CacheEnabled)
            {
                // The scope is resolved only when someone counts.
                RecordLookup("bypass", options.ResolveCostScope(), avoided: null);
            }

            return null;
        }

        CostCallContext context = CostCallContext.FindOrOpen(options, _timeProvider, out bool owned);
        CostScope scope = context.Scope;
        string? key = _keys.TryBuild(messages, options, Metadata, control, scope, out string[] tags);
        if (key is null)
        {
            Log.PromptCacheUnkeyable(_logger);
            RecordLookup("bypass", scope, avoided: null);
            if (owned)
            {
                // Passed through untouched: the stages inside open their own context.
                context.Close();
            }

            return null;
        }

        return new PromptCacheRequest(key, tags, _keys.EntryOptions(control), context, ownsContext: owned, options);
    }

    // The HybridCache factory: runs once per key for every concurrent caller, with the first caller's state.
    private async ValueTask<PromptCacheEntry> FetchAsync(PromptCacheMiss miss, CancellationToken cancellationToken)
    {
        if (miss.Context is not null)
        {
            // Scoped to this async method: the caller's ambient scope and activity flow into the provider call.
            ExecutionContext.Restore(miss.Context);
        }

        if (!miss.TryClaim())
        {
            // The caller whose state this is has left and settled; the callers still waiting ask for themselves.
            throw new PromptCacheNotStoredException(miss, "caller left");
        }

        try
        {
            return await FetchClaimedAsync(miss, cancellationToken);
        }
        finally
        {
            miss.ReleaseWork();
        }
    }

    private async ValueTask<PromptCacheEntry> FetchClaimedAsync(PromptCacheMiss miss, CancellationToken cancellationToken)
    {
        miss.MarkStarted();
        PromptCacheRequest request = miss.Request;
        ChatOptions forwarded = request.CreateForwardedOptions();
        int firstEntry = request.Receipt.Entries.Length;

        PromptCacheEntry? entry;
        string? reason;
        if (!miss.IsStreaming)
        {
            ChatResponse response = await InnerClient.GetResponseAsync(miss.Messages, forwarded, cancellationToken);
            miss.Response = response;
            entry = Capture(response, request, firstEntry, out reason);

            // Counted here rather than by the caller: the call is paid for even if its caller has stopped waiting
            // (HybridCache finishes a miss that other callers still wait for); the receipt is settled after this
            // factory ends, whoever opened it.
            SettleMiss(request, response.ModelId, reason);
        }
        else
        {
            List<ChatResponseUpdate> captured = await RelayStreamAsync(miss, forwarded, cancellationToken);
            entry = Capture(captured, request, firstEntry, out reason);
        }

        return entry ?? throw new PromptCacheNotStoredException(miss, reason!);
    }

    // Drives the provider's stream for a streamed miss, handing each update to the caller that is reading it live.
    private async Task<List<ChatResponseUpdate>> RelayStreamAsync(PromptCacheMiss miss, ChatOptions forwarded, CancellationToken cancellationToken)
    {
        using CancellationTokenSource linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, miss.AbandonToken);
        List<ChatResponseUpdate> captured = [];
        try
        {
            await foreach (ChatResponseUpdate update in InnerClient.GetStreamingResponseAsync(miss.Messages, forwarded, linked.Token))
            {
                captured.Add(update);
                _ = miss.Updates!.Writer.TryWrite(update);
                if (miss.IsAbandoned)
                {
                    break;
                }
            }
        }
        catch (Exception ex)
        {
            if (miss.IsAbandoned)
            {
                _ = miss.Updates!.Writer.TryComplete();
                throw new PromptCacheNotStoredException(miss, PromptCacheCapture.Abandoned);
            }

            _ = miss.Updates!.Writer.TryComplete(ex);
            throw;
        }

        _ = miss.Updates!.Writer.TryComplete();
        return miss.IsAbandoned ? throw new PromptCacheNotStoredException(miss, PromptCacheCapture.Abandoned) : captured;
    }

    // The entry to store for an answer, or null with the reason it is not stored. firstEntry is where the receipt
    // stood before the provider call, so that only that call's entries are kept as what the answer cost.
    private PromptCacheEntry? Capture(ChatResponse response, PromptCacheRequest request, int firstEntry, out string? notStoredReason) =>
        PromptCacheCapture.TryCreate(response, request.Receipt, firstEntry, _allowToolCalls, _timeProvider.GetUtcNow(), out notStoredReason);

    private PromptCacheEntry? Capture(List<ChatResponseUpdate> updates, PromptCacheRequest request, int firstEntry, out string? notStoredReason) =>
        PromptCacheCapture.TryCreate(updates, request.Receipt, firstEntry, _coalesce, _allowToolCalls, _timeProvider.GetUtcNow(), out notStoredReason);

    private ChatResponse? TryRehydrate(PromptCacheEntry entry)
    {
        if (entry.IsValid)
        {
            try
            {
                return entry.ToResponse();
            }
            catch (Exception ex) when (ex is JsonException or NotSupportedException)
            {
                Log.PromptCacheInvalidEntry(_logger, ex.Message);
                return null;
            }
        }

        Log.PromptCacheInvalidEntry(_logger, entry.InvalidReason!);
        return null;
    }

    private static ChatResponse AttachReceipt(PromptCacheRequest request, ChatResponse response)
    {
        (response.AdditionalProperties ??= [])[CostAwareProperties.Receipt] = request.Receipt;
        return response;
    }

    private void SettleMiss(PromptCacheRequest request, string? modelId, string? notStoredReason)
    {
        if (notStoredReason is not null)
        {
            NotStored(modelId, notStoredReason);
        }

        RecordLookup("miss", request.Receipt.Scope, avoided: null);
    }

    private void SettleHit(PromptCacheRequest request, PromptCacheEntry entry)
    {
        decimal? avoided = CacheSettlement.AddHitEntries(_pricer, request.Receipt, entry, _timeProvider.GetUtcNow(), StageName);
        Log.PromptCacheHit(_logger, entry.ModelId, avoided);
        RecordLookup("hit", request.Receipt.Scope, avoided);
    }

    // A call made outside the cache's coalescing: after an unreadable entry (then the answer replaces it), or after
    // joining another caller's miss whose answer could not be shared.
    private async ValueTask<ChatResponse> ForwardAsync(
        IEnumerable<ChatMessage> messages, PromptCacheRequest request, bool store, CancellationToken cancellationToken)
    {
        int firstEntry = request.Receipt.Entries.Length;
        ChatResponse response = await InnerClient.GetResponseAsync(messages, request.CreateForwardedOptions(), cancellationToken);
        string? reason = null;
        if (store)
        {
            await ReplaceAsync(request, Capture(response, request, firstEntry, out reason));
        }

        SettleMiss(request, response.ModelId, reason);
        return AttachReceipt(request, response);
    }

    private async ValueTask ReplaceAsync(PromptCacheRequest request, PromptCacheEntry? entry)
    {
        try
        {
            if (entry is not null)
            {
                await _cache.SetAsync(request.Key, entry, request.EntryOptions, request.Tags, CancellationToken.None);
            }
            else
            {
                await _cache.RemoveAsync(request.Key, CancellationToken.None);
            }
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            Log.PromptCacheWriteFailed(_logger, ex);
        }
    }

    private async IAsyncEnumerable<ChatResponseUpdate> StreamAsync(
        IEnumerable<ChatMessage> messages, PromptCacheRequest request, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        try
        {
            IAsyncEnumerable<ChatResponseUpdate> updates = request.Context.IsCacheOnly
                ? StreamCacheOnlyAsync(messages, request, cancellationToken)
                : StreamLookupAsync(messages, request, cancellationToken);
            await foreach (ChatResponseUpdate update in updates)
            {
                yield return update;
            }
        }
        finally
        {
            await FinishAsync(request);
        }
    }

    private async IAsyncEnumerable<ChatResponseUpdate> StreamCacheOnlyAsync(
        IEnumerable<ChatMessage> messages, PromptCacheRequest request, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        PromptCacheEntry? entry = await ReadOnlyAsync(request, cancellationToken);
        ChatResponse? hit = entry is null ? null : TryRehydrate(entry);
        if (hit is null)
        {
            await RefuseProviderCallAsync(messages, request, cancellationToken);
            await foreach (ChatResponseUpdate update in ForwardStreamAsync(messages, request, store: true, cancellationToken))
            {
                yield return update;
            }

            yield break;
        }

        foreach (ChatResponseUpdate update in ReplayHit(request, entry!, hit))
        {
            yield return update;
        }
    }

    private IEnumerable<ChatResponseUpdate> ReplayHit(PromptCacheRequest request, PromptCacheEntry entry, ChatResponse hit)
    {
        SettleHit(request, entry);
        foreach (ChatResponseUpdate update in entry.ToReplay(hit))
        {
            yield return update;
        }

        yield return CacheSettlement.ReceiptUpdate(request.Receipt, entry.ModelId, entry.ResponseId);
    }

    private async IAsyncEnumerable<ChatResponseUpdate> StreamLookupAsync(
        IEnumerable<ChatMessage> messages, PromptCacheRequest request, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        PromptCacheMiss miss = new(this, messages, request, streaming: true);
        try
        {
            await foreach (ChatResponseUpdate update in StreamMissAsync(messages, miss, cancellationToken))
            {
                yield return update;
            }
        }
        finally
        {
            miss.Leave();
        }
    }

    private async IAsyncEnumerable<ChatResponseUpdate> StreamMissAsync(
        IEnumerable<ChatMessage> messages, PromptCacheMiss miss, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        PromptCacheRequest request = miss.Request;
        ValueTask<PromptCacheEntry> pending = _cache.GetOrCreateAsync(
            request.Key, miss, static (m, ct) => m.Owner.FetchAsync(m, ct), request.EntryOptions, request.Tags, cancellationToken);

        // A memory hit completes synchronously; anything else waits for this caller's own miss to start, or for the
        // shared outcome.
        PromptCacheEntry? entry;
        bool forward = false;
        if (pending.IsCompletedSuccessfully && !miss.HasStarted)
        {
            entry = pending.Result;
        }
        else
        {
            Task<PromptCacheEntry> pendingTask = pending.AsTask();
            if (!pendingTask.IsCompleted)
            {
#pragma warning disable VSTHRD003 // This caller's own miss signal and HybridCache's lookup for it.
                _ = await Task.WhenAny(miss.Started, pendingTask);
#pragma warning restore VSTHRD003
            }

            if (miss.HasStarted)
            {
                // This caller's miss: relay the provider's stream as it arrives.
                await foreach (ChatResponseUpdate update in RelayOwnMissAsync(miss, pendingTask, cancellationToken))
                {
                    yield return update;
                }

                yield break;
            }

            (entry, forward) = await JoinAsync(pendingTask, miss);
        }

        // Not this caller's miss: its relay state is never used.
        miss.Dispose();
        ChatResponse? hit = entry is null ? null : TryRehydrate(entry);
        if (hit is null)
        {
            // Another caller's answer could not be shared, or the stored entry could not be read.
            await foreach (ChatResponseUpdate update in ForwardStreamAsync(messages, request, store: !forward, cancellationToken))
            {
                yield return update;
            }

            yield break;
        }

        foreach (ChatResponseUpdate update in ReplayHit(request, entry!, hit))
        {
            yield return update;
        }
    }

    // The outcome of a lookup that this caller did not pay for: the entry, or (entry null, forward true) the instruction
    // to ask the provider itself. Any other failure of the shared miss is this caller's failure too.
    private static async ValueTask<(PromptCacheEntry? Entry, bool Forward)> JoinAsync(Task<PromptCacheEntry> pendingTask, PromptCacheMiss miss)
    {
        try
        {
#pragma warning disable VSTHRD003 // HybridCache's shared work for this key; awaiting it is the point of joining.
            return (await pendingTask, false);
#pragma warning restore VSTHRD003
        }
        catch (PromptCacheNotStoredException ex) when (ex.Miss != miss)
        {
            return (null, true);
        }
    }

    private async IAsyncEnumerable<ChatResponseUpdate> RelayOwnMissAsync(
        PromptCacheMiss miss, Task<PromptCacheEntry> pendingTask, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        PromptCacheRequest request = miss.Request;
        var reader = miss.Updates!.Reader;
        bool completed = false;
        bool sawReceipt = false;
        try
        {
            while (await reader.WaitToReadAsync(cancellationToken))
            {
                while (reader.TryRead(out ChatResponseUpdate? update))
                {
                    sawReceipt |= update.GetCostReceipt() is not null;
                    yield return update;
                }
            }

            completed = true;
        }
        finally
        {
            if (!completed)
            {
                miss.Abandon();
            }

            // The provider call is over (or being cancelled) before the receipt is recorded, so its cost is on it.
            string? reason = await ObserveAsync(pendingTask, miss);
            miss.Dispose();
            SettleMiss(request, modelId: null, reason);
        }

        if (!sawReceipt)
        {
            yield return CacheSettlement.ReceiptUpdate(request.Receipt, modelId: null, responseId: null);
        }
    }

    private static async ValueTask<string?> ObserveAsync(Task<PromptCacheEntry> pendingTask, PromptCacheMiss miss)
    {
        try
        {
#pragma warning disable VSTHRD003 // The factory this caller's own miss started; it is awaited to settle the receipt.
            _ = await pendingTask;
#pragma warning restore VSTHRD003
            return null;
        }
        catch (PromptCacheNotStoredException ex) when (ex.Miss == miss)
        {
            return ex.Reason;
        }
        catch (Exception)
        {
            // The caller already received this failure through the stream.
            return "error";
        }
    }

    private IAsyncEnumerable<ChatResponseUpdate> ForwardStreamAsync(
        IEnumerable<ChatMessage> messages, PromptCacheRequest request, bool store, CancellationToken cancellationToken) =>
        CacheStreams.RelayMissAsync(
            InnerClient,
            messages,
            request.CreateForwardedOptions(),
            request.Receipt,
            keep: store,
            async captured =>
            {
                string? reason = captured.Completed ? null : PromptCacheCapture.Abandoned;
                if (captured.Updates is not null && captured.Completed)
                {
                    await ReplaceAsync(request, Capture(captured.Updates, request, captured.FirstEntry, out reason));
                }

                SettleMiss(request, modelId: null, reason);
            },
            cancellationToken);

    private void RecordLookup(string result, CostScope scope, decimal? avoided) => _telemetry.Lookup(result, scope, avoided);

    private void NotStored(string? modelId, string reason)
    {
        Log.PromptCacheNotStored(_logger, modelId, reason);
        _telemetry.NotStored(reason);
    }
}

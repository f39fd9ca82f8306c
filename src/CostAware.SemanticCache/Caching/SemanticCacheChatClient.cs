using System.Buffers;
using System.Collections.Frozen;
using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using CostAware.SemanticCache.Internal;
using CostAware.Shared;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace CostAware;

/// <summary>
/// Answers a request whose meaning matches one answered before: the user's text is embedded and compared, by cosine
/// similarity, with the texts stored in the same exact partition, and a stored answer close enough is served instead
/// of paying the provider again.
/// </summary>
/// <remarks>
/// <para>
/// <b>Partition exactly, match semantically.</b> The partition is a hash of everything that must be equal for an
/// answer to be reusable: the tenant (or a shared partition the options list), provider and model, instructions and
/// system messages, tools, response format, sampling parameters and, with <see cref="SemanticMatchScope.LastUserTurn"/>,
/// the earlier turns. Only the user's text is matched by meaning. One tenant never receives another's answer.
/// </para>
/// <para>
/// <b>One similarity scale.</b> Cosine similarity in [-1, 1], higher = closer, compared with
/// <see cref="SemanticCacheOptions.SimilarityThreshold"/>, a partition's threshold, or the request's
/// <see cref="CacheControl.SimilarityThreshold"/>. Candidates above it must also pass the guards
/// (<see cref="SemanticGuards"/>), the lexical-overlap floor and, in verified partitions, the
/// <see cref="ISemanticHitVerifier"/>.
/// </para>
/// <para>
/// <b>Money.</b> The embedding is priced like any call (free for the built-in local embedders) and put on the receipt;
/// a hit adds one <see cref="CostEntryKind.CacheHit"/> entry per stored provider call with the money avoided, so the
/// receipt shows the saving net of the embedding. Answers are stored under the same rules as the exact cache:
/// never an error, a cut-off, filtered or abandoned answer, or (unless allowed) tool calls.
/// </para>
/// <para>
/// Concurrent misses with similar texts each call the provider: there is no coalescing by meaning. Requests with a
/// <see cref="ChatOptions.ConversationId"/> or a continuation token pass through. Thread-safe.
/// </para>
/// </remarks>
public sealed class SemanticCacheChatClient : DelegatingChatClient
{

    private const string StageName = "semantic-cache";
    private const string CacheName = "semantic";

    private readonly IEmbeddingGenerator<string, Embedding<float>> _embedder;
    private readonly bool _embedderIsLocal;
    private readonly ISemanticHitVerifier? _verifier;
    private readonly SemanticReplica _replica;
    private readonly SemanticEntryStore _store;
    private readonly PromptCacheKeyBuilder _keys;
    private readonly CallPricer _pricer;
    private readonly ICostLedger? _ledger;
    private readonly TimeProvider _timeProvider;
    private readonly ILogger _logger;
    private readonly CostAwareMetrics _metrics;
    private readonly FrozenSet<string> _sharedPartitions;
    private readonly FrozenSet<string> _verifiedPartitions;
    private readonly FrozenDictionary<string, float> _thresholds;
    private readonly float _threshold;
    private readonly SemanticMatchScope _scope;
    private readonly SemanticGuards _guards;
    private readonly float _lexicalFloor;
    private readonly int _candidates;
    private readonly int _maxQueryLength;
    private readonly TimeSpan _timeToLive;
    private readonly bool _coalesce;
    private readonly bool _allowToolCalls;
    private readonly bool _recordToLedger;
    private readonly CacheTelemetry _telemetry;
    private readonly ErrorBound? _bound;
    private readonly SemanticAnswerEquivalence _equivalence;
    private readonly float _answerThreshold;
    private readonly HitLog _hits = new();
    private ChatClientMetadata? _metadata;

    /// <summary>Initializes a new instance of the <see cref="SemanticCacheChatClient"/> class.</summary>
    /// <param name="innerClient">The client whose answers are cached.</param>
    /// <param name="embeddingGenerator">Embeds the user's text: the app's provider, or a local model such as <see cref="LexicalEmbeddingGenerator"/>.</param>
    /// <param name="options">The stage's options; <see langword="null"/> uses the defaults.</param>
    /// <param name="store">Where entries are shared with other nodes (for example Redis); <see langword="null"/> keeps them in this process.</param>
    /// <param name="verifier">Confirms hits in the verified partitions; <see langword="null"/> for none.</param>
    /// <param name="priceCatalog">Prices for embeddings and the money avoided; <see langword="null"/> uses <see cref="PriceCatalog.BuiltIn"/>.</param>
    /// <param name="ledger">Where receipts this stage opens are recorded; <see langword="null"/> records nowhere.</param>
    /// <param name="timeProvider">The clock; <see langword="null"/> uses <see cref="TimeProvider.System"/>.</param>
    /// <param name="loggerFactory">The logger factory; <see langword="null"/> logs nothing.</param>
    /// <exception cref="ArgumentNullException"><paramref name="innerClient"/> or <paramref name="embeddingGenerator"/> is <see langword="null"/>.</exception>
    /// <exception cref="Microsoft.Extensions.Options.OptionsValidationException"><paramref name="options"/> is not valid; the message names each field.</exception>
    public SemanticCacheChatClient(
        IChatClient innerClient,
        IEmbeddingGenerator<string, Embedding<float>> embeddingGenerator,
        SemanticCacheOptions? options = null,
        ISemanticCacheStore? store = null,
        ISemanticHitVerifier? verifier = null,
        IPriceCatalog? priceCatalog = null,
        ICostLedger? ledger = null,
        TimeProvider? timeProvider = null,
        ILoggerFactory? loggerFactory = null)
        : this(innerClient, embeddingGenerator, options, store, verifier, priceCatalog, ledger, timeProvider, loggerFactory, metrics: null)
    {
    }

    internal SemanticCacheChatClient(
        IChatClient innerClient,
        IEmbeddingGenerator<string, Embedding<float>> embeddingGenerator,
        SemanticCacheOptions? options,
        ISemanticCacheStore? store,
        ISemanticHitVerifier? verifier,
        IPriceCatalog? priceCatalog,
        ICostLedger? ledger,
        TimeProvider? timeProvider,
        ILoggerFactory? loggerFactory,
        CostAwareMetrics? metrics)
        : base(innerClient)
    {
        ArgumentNullException.ThrowIfNull(embeddingGenerator);
        options ??= new SemanticCacheOptions();
        SemanticCacheOptionsFullValidator.ThrowIfInvalid(options);

        _embedder = embeddingGenerator;
        _embedderIsLocal = embeddingGenerator.GetService<LexicalEmbeddingGenerator>() is not null
            || embeddingGenerator.GetService<Model2VecEmbeddingGenerator>() is not null;
        _verifier = verifier;
        _keys = new PromptCacheKeyBuilder(options.KeyPrefix, PromptCacheKeyAlgorithm.XxHash128);
        _logger = (loggerFactory ?? NullLoggerFactory.Instance).CreateLogger<SemanticCacheChatClient>();
        _pricer = new CallPricer(priceCatalog ?? PriceCatalog.BuiltIn, _logger);
        _ledger = ledger;
        _timeProvider = timeProvider ?? TimeProvider.System;
        _replica = new SemanticReplica(options.Index, options.MaxEntries, store, _timeProvider, _logger);
        _store = _replica.Store;
        _metrics = metrics ?? CostAwareMetrics.Shared;
        _sharedPartitions = options.SharedPartitions.ToFrozenSet(StringComparer.Ordinal);
        _verifiedPartitions = options.VerifiedPartitions.ToFrozenSet(StringComparer.Ordinal);
        _thresholds = options.PartitionThresholds.ToFrozenDictionary(StringComparer.Ordinal);
        _threshold = options.SimilarityThreshold;
        _scope = options.MatchScope;
        _guards = options.Guards;
        _lexicalFloor = options.MinimumLexicalOverlap;
        _candidates = options.Candidates;
        _maxQueryLength = options.MaxQueryLength;
        _timeToLive = options.TimeToLive;
        _coalesce = options.CoalesceStreamingUpdates;
        _allowToolCalls = options.CacheToolCallResponses;
        _recordToLedger = options.RecordToLedger;
        _telemetry = new CacheTelemetry(CacheName, _metrics, options.IncludeScopeInMetrics);
        _bound = options.MaxErrorRate is { } rate ? new ErrorBound(rate, options.MinimumSimilarity, options.VerificationRate) : null;
        if (_bound is not null && options.AnswerEquivalence == SemanticAnswerEquivalence.Judge && verifier is null)
        {
            throw new ArgumentException(
                "SemanticCacheOptions.AnswerEquivalence is Judge, which asks the ISemanticHitVerifier; none was given (register one, e.g. ChatClientSemanticHitVerifier, or pass it to the constructor).",
                nameof(verifier));
        }

        _equivalence = options.AnswerEquivalence;
        _answerThreshold = options.AnswerSimilarityThreshold;
        _embedderIsLocal |= _embedder.GetService<EmbeddingGeneratorMetadata>()?.ProviderUri is { } uri && uri.Scheme is not ("http" or "https");
        if (embeddingGenerator.GetService<LexicalEmbeddingGenerator>() is not null)
        {
            Log.LexicalEmbedder(_logger);
        }

    }

    /// <summary>Gets the number of entries in this process's replica.</summary>
    public int Count => _store.Count;

    /// <summary>
    /// Gets, in error-bounded mode (<see cref="SemanticCacheOptions.MaxErrorRate"/>), the similarity at or above which
    /// this stage now serves stored answers (entries found wrong serve only above that); +∞ until enough verifications
    /// meet the bound; <see langword="null"/> with a static threshold.
    /// </summary>
    public float? LearnedThreshold => _bound?.Threshold;

    internal ErrorBound? Bound => _bound;

    /// <summary>
    /// Reports that a semantic hit served a wrong answer, by the receipt of the call it answered: the entry is not served
    /// again at that similarity or below, the error-bounded mode counts the error, and the money the hit avoided is taken
    /// back in the cost ledger (a correcting receipt with the avoided amount negated).
    /// </summary>
    /// <param name="receiptId">The <see cref="CostReceipt.Id"/> of the call the hit answered.</param>
    /// <param name="cancellationToken">The token to monitor for cancellation requests.</param>
    /// <returns><see langword="true"/> when the receipt was a semantic hit this process served recently (the last 10,000); otherwise <see langword="false"/>.</returns>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled before the report was taken (nothing changed).</exception>
    public async ValueTask<bool> ReportWrongHitAsync(Guid receiptId, CancellationToken cancellationToken = default)
    {
        // Cancellation is honoured only before the report is taken: once taken, it is carried out whole (the entry, the
        // bound and the ledger's correction), or a retry would find nothing and the avoided money would stay counted.
        cancellationToken.ThrowIfCancellationRequested();
        if (!_hits.TryTake(receiptId, out HitLog.Hit hit))
        {
            return false;
        }

        if (_bound is not null)
        {
            _bound.Observe(hit.Entry, hit.Similarity, same: false, hit.Policy);
        }
        else
        {
            hit.Entry.MarkWrongAt(hit.Similarity);
        }

        Log.WrongHitReported(_logger, receiptId, hit.Similarity);
        await _replica.ShareLearningAsync(hit.Entry);
        _telemetry.Veto("reported");

        if (hit.Avoided is { } avoided && avoided != 0m && _recordToLedger && _ledger is not null)
        {
            CostReceipt correction = new(Guid.NewGuid(), hit.Scope, _timeProvider.GetUtcNow());
            correction.Add(new CostReceiptEntry
            {
                Kind = CostEntryKind.CacheHit,
                ModelId = hit.Entry.Answer.ModelId,
                Cost = default(CostBreakdown),
                CostAvoided = -avoided,
                Timestamp = correction.CreatedAt,
                Stage = StageName,
            });
            await LedgerRecording.RecordAsync(_ledger, correction, _logger);
        }

        return true;
    }

    /// <summary>Removes every answer stored for a tenant, here and in the store (and so on every node).</summary>
    /// <param name="tenant">The tenant, as in <see cref="CostScope.Tenant"/>; <see langword="null"/> for requests without one.</param>
    /// <param name="cancellationToken">The token to monitor for cancellation requests.</param>
    /// <returns>A task that completes when the entries are removed.</returns>
    public ValueTask InvalidateTenantAsync(string? tenant, CancellationToken cancellationToken = default) =>
        _replica.RemoveGroupAsync(PromptCacheKeyBuilder.PartitionId(tenant, sharedPartition: null), cancellationToken);

    /// <summary>Removes every answer stored in a shared partition, here and in the store.</summary>
    /// <param name="name">The shared partition's name.</param>
    /// <param name="cancellationToken">The token to monitor for cancellation requests.</param>
    /// <returns>A task that completes when the entries are removed.</returns>
    /// <exception cref="ArgumentException"><paramref name="name"/> is <see langword="null"/> or empty.</exception>
    public ValueTask InvalidateSharedPartitionAsync(string name, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        return _replica.RemoveGroupAsync(PromptCacheKeyBuilder.PartitionId(tenant: null, name), cancellationToken);
    }

    /// <summary>Removes every answer this stage stored, here and in the store.</summary>
    /// <param name="cancellationToken">The token to monitor for cancellation requests.</param>
    /// <returns>A task that completes when the entries are removed.</returns>
    public ValueTask InvalidateAllAsync(CancellationToken cancellationToken = default) => _replica.RemoveGroupAsync(null, cancellationToken);

    /// <summary>Writes every live entry of this process's replica to a stream, in a versioned format with a checksum.</summary>
    /// <param name="destination">The stream to write to.</param>
    /// <param name="cancellationToken">The token to monitor for cancellation requests.</param>
    /// <returns>The number of entries written.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="destination"/> is <see langword="null"/>.</exception>
    public Task<int> SaveSnapshotAsync(Stream destination, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(destination);
        return _replica.SaveSnapshotAsync(destination, cancellationToken);
    }

    /// <summary>
    /// Replaces this process's entries with a snapshot's. The whole snapshot is read and checked first: a truncated,
    /// damaged or foreign one is rejected and the current entries stay as they were.
    /// </summary>
    /// <param name="source">The stream to read from.</param>
    /// <param name="cancellationToken">The token to monitor for cancellation requests.</param>
    /// <returns>The number of entries restored (expired ones are skipped).</returns>
    /// <exception cref="ArgumentNullException"><paramref name="source"/> is <see langword="null"/>.</exception>
    /// <exception cref="InvalidDataException">The snapshot is truncated, damaged, of another version, or inconsistent; the message says which.</exception>
    public Task<int> RestoreSnapshotAsync(Stream source, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(source);
        return _replica.RestoreSnapshotAsync(source, cancellationToken);
    }

    /// <inheritdoc />
    public override async Task<ChatResponse> GetResponseAsync(
        IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(messages);
        MessageChecks.ThrowIfInvalid(messages, nameof(messages));
        SemanticRequest? request = Prepare(messages, options);
        if (request is null)
        {
            return await base.GetResponseAsync(messages, options, cancellationToken);
        }

        bool settled = false;
        try
        {
            (SemanticEntry? hit, float similarity) = await LookupAsync(request, cancellationToken);
            if (hit is not null)
            {
                ChatResponse response = hit.Answer.ToResponse();
                settled = true;
                await SettleHitAsync(request, hit, similarity);
                return Attach(request, response, similarity, AppliedThreshold(request));
            }

            // A miss, or a text that could not be embedded (then nothing is stored): the provider answers, and the
            // inner stages charge this request's receipt.
            await RefuseIfCacheOnlyAsync(messages, request, cancellationToken);
            int firstEntry = request.Receipt.Entries.Length;
            ChatResponse answer = await InnerClient.GetResponseAsync(messages, request.CreateForwardedOptions(), cancellationToken);
            // The comparison is the stage's own learning: the caller's cancellation, now that the answer is paid for and
            // in hand, must not lose it.
            bool covered = request.VerifyEntry is not null && await LearnAsync(request, answer.Text, CancellationToken.None);
            if (request.Vector is not null && !covered)
            {
                PromptCacheEntry? entry = PromptCacheCapture.TryCreate(answer, request.Receipt, firstEntry, _allowToolCalls, _timeProvider.GetUtcNow(), out string? reason);
                await StoreOrExplainAsync(request, entry, answer.ModelId, reason);
            }

            settled = true;
            await SettleAsync(request, Outcome(request), avoided: null);
            return Attach(request, answer, similarity: null, AppliedThreshold(request));
        }
        finally
        {
            if (!settled)
            {
                // A failed or cancelled call: the embedding (and anything the inner stages spent) is still recorded.
                await SettleAsync(request, "miss", avoided: null);
            }
        }
    }

    /// <inheritdoc />
    public override IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(
        IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(messages);
        MessageChecks.ThrowIfInvalid(messages, nameof(messages));
        SemanticRequest? request = Prepare(messages, options);
        return request is null
            ? base.GetStreamingResponseAsync(messages, options, cancellationToken)
            : StreamAsync(messages, request, cancellationToken);
    }

    /// <inheritdoc />
    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _replica.Dispose();
        }

        base.Dispose(disposing);
    }

    private ChatClientMetadata Metadata => _metadata ??= InnerClient.GetService<ChatClientMetadata>() ?? new ChatClientMetadata();

    private async IAsyncEnumerable<ChatResponseUpdate> StreamAsync(
        IEnumerable<ChatMessage> messages, SemanticRequest request, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        (SemanticEntry? hit, float similarity) lookup;
        try
        {
            lookup = await LookupAsync(request, cancellationToken);
            if (lookup.hit is null)
            {
                await RefuseIfCacheOnlyAsync(messages, request, cancellationToken);
            }
        }
        catch
        {
            await SettleAsync(request, "miss", avoided: null);
            throw;
        }

        if (lookup.hit is { } hit)
        {
            await SettleHitAsync(request, hit, lookup.similarity);
            PromptCacheEntry answer = hit.Answer;
            foreach (ChatResponseUpdate update in answer.ToReplay(answer.ToResponse()))
            {
                yield return update;
            }

            ChatResponseUpdate last = CacheSettlement.ReceiptUpdate(request.Receipt, answer.ModelId, answer.ResponseId);
            last.AdditionalProperties![CostAwareProperties.SemanticSimilarity] = lookup.similarity;
            last.AdditionalProperties[CostAwareProperties.CacheHit] = request.NearExact ? "near-exact" : "semantic";
            last.AdditionalProperties[CostAwareProperties.SemanticThreshold] = AppliedThreshold(request);
            yield return last;
            yield break;
        }

        await foreach (ChatResponseUpdate update in CacheStreams.RelayMissAsync(
            InnerClient, messages, request.CreateForwardedOptions(), request.Receipt, keep: true, captured => SettleMissAsync(request, captured), cancellationToken))
        {
            yield return update;
        }
    }

    // A streamed miss is over: a text that could not be embedded has nothing to be stored under; a verified answer the
    // stored one matched is covered by it; an unfinished one is not stored.
    private async ValueTask SettleMissAsync(SemanticRequest request, CapturedStream captured)
    {
        if (captured.Completed)
        {
            List<ChatResponseUpdate> updates = captured.Updates!;
            bool covered = request.VerifyEntry is not null && await LearnAsync(request, updates.ToChatResponse().Text, CancellationToken.None);
            if (request.Vector is not null && !covered)
            {
                PromptCacheEntry? entry = PromptCacheCapture.TryCreate(
                    updates, request.Receipt, captured.FirstEntry, _coalesce, _allowToolCalls, _timeProvider.GetUtcNow(), out string? reason);
                await StoreOrExplainAsync(request, entry, modelId: null, reason);
            }
        }
        else
        {
            NotStored(modelId: null, PromptCacheCapture.Abandoned);
        }

        await SettleAsync(request, Outcome(request), avoided: null);
    }

    private SemanticRequest? Prepare(IEnumerable<ChatMessage> messages, ChatOptions? options)
    {
        SemanticRequest? request = PrepareCore(messages, options, out CostCallContext? opened);
        if (request is null)
        {
            // Passed through untouched: the stages inside open their own context.
            opened?.Close();
        }

        return request;
    }

    private SemanticRequest? PrepareCore(IEnumerable<ChatMessage> messages, ChatOptions? options, out CostCallContext? opened)
    {
        opened = null;
        CacheControl? control = options.GetCacheControl();
        if (CacheTelemetry.IsBypassed(options, control))
        {
            RecordLookup("bypass", options.ResolveCostScope(), avoided: null);
            return null;
        }

        if (control?.SimilarityThreshold is { } requested && !(requested is >= -1f and <= 1f))
        {
            throw new ArgumentException(
                $"CacheControl.SimilarityThreshold is {requested}; a cosine similarity threshold lies in [-1, 1] (1 serves only identical texts).", nameof(options));
        }

        string? shared = control?.SharedPartition;
        if (shared is not null && !_sharedPartitions.Contains(shared))
        {
            throw new ArgumentException(
                $"The request names the shared cache partition '{shared}', which SemanticCacheOptions.SharedPartitions does not list. Add it there to let every tenant share its entries.",
                nameof(options));
        }

        CostCallContext context = CostCallContext.FindOrOpen(options, _timeProvider, out bool owned);
        opened = owned ? context : null;
        CostScope scope = context.Scope;

        IList<ChatMessage> list = messages as IList<ChatMessage> ?? [.. messages];
        string? query = TryGetQuery(list);
        string group = PromptCacheKeyBuilder.PartitionId(shared is null ? scope.Tenant : null, shared);
        string? partition = query is null
            ? null
            : _keys.TryBuild(list.Take(list.Count - 1).ToList(), options, Metadata, shared is null ? scope.Tenant : null, shared, group);
        if (partition is null)
        {
            RecordLookup("bypass", scope, avoided: null);
            return null;
        }

        string name = shared ?? scope.Tenant ?? string.Empty;
        float threshold = control?.SimilarityThreshold ?? (_thresholds.TryGetValue(name, out float t) ? t : _threshold);
        bool verify = _verifier is not null && (_verifiedPartitions.Count == 0 || _verifiedPartitions.Contains(name));
        return new SemanticRequest(query!, group, partition, threshold, verify, control, context, ownsContext: owned, options);
    }

    // The text matched by meaning, or null when the request is outside the match scope: the last message must be a
    // user turn of text only, and (first-turn scope) only system or developer messages may come before it.
    private string? TryGetQuery(IList<ChatMessage> messages)
    {
        if (messages.Count == 0 || messages[^1] is not { } last || last.Role != ChatRole.User || last.Contents.Count == 0)
        {
            return null;
        }

        foreach (AIContent content in last.Contents)
        {
            if (content is not TextContent)
            {
                return null;
            }
        }

        if (_scope == SemanticMatchScope.FirstUserTurn)
        {
            for (int i = 0; i < messages.Count - 1; i++)
            {
                ChatRole role = messages[i].Role;
                if (role != ChatRole.System && !string.Equals(role.Value, "developer", StringComparison.OrdinalIgnoreCase))
                {
                    return null;
                }
            }
        }

        string text = last.Text;
        return string.IsNullOrWhiteSpace(text) || text.Length > _maxQueryLength ? null : text;
    }

    // Embeds the query and finds the best stored answer that passes the threshold, the guards and the verifier.
    // Leaves request.Vector null when the text cannot be embedded usefully (then the call passes through).
    private async ValueTask<(SemanticEntry? Hit, float Similarity)> LookupAsync(SemanticRequest request, CancellationToken cancellationToken)
    {
        await _replica.EnsureStartedAsync(cancellationToken);
        GeneratedEmbeddings<Embedding<float>> generated;
        try
        {
            generated = await _embedder.GenerateAsync([request.Query], options: null, cancellationToken);
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            // The cache is an optimisation: an embedding provider that fails must not fail the call.
            Log.EmbeddingFailed(_logger, ex);
            return (null, 0f);
        }

        AddEmbeddingEntry(request, generated);
        if (generated.Count != 1 || !SemanticReplica.IsUsable(generated[0].Vector.Span))
        {
            return (null, 0f);
        }

        float[] vector = generated[0].Vector.ToArray();
        if (_store.Dimensions is { } dimensions && dimensions != vector.Length)
        {
            // Like an embedder that fails: the cache is an optimisation, so the call is answered (and nothing stored
            // under a vector the index cannot compare), with a warning and the bypass counted.
            Log.DimensionsChanged(_logger, vector.Length, dimensions);
            _telemetry.Veto("dimensions");

            return (null, 0f);
        }

        request.Vector = vector;
        if (request.SkipRead)
        {
            return (null, 0f);
        }

        DateTimeOffset now = _timeProvider.GetUtcNow();
        (SemanticEntry Entry, float Similarity)[] found = ArrayPool<(SemanticEntry, float)>.Shared.Rent(_candidates);
        try
        {
            int count = _store.Search(request.Partition, vector, found.AsSpan(0, _candidates), now);
            if (count > 0 && found[0].Entry.IsSameRequest(request.Query) && found[0].Similarity > found[0].Entry.WrongAt)
            {
                // The near-exact tier: the same request (or one a verification confirmed for this entry) but for case,
                // white space and punctuation is served like an exact hit, whatever the threshold or the guards (not an
                // entry reported wrong at this similarity, and in a verified partition only when the verifier agrees).
                if (!request.Verify || await VerifyAsync(request, found[0].Entry, found[0].Similarity, cancellationToken))
                {
                    request.NearExact = true;
                    return (found[0].Entry, found[0].Similarity);
                }

                Log.Vetoed(_logger, found[0].Similarity, "verifier");
                _telemetry.Veto("verifier");

                return (null, found[0].Similarity);
            }

            if (_bound is not null)
            {
                return count == 0 ? (null, 0f) : await DecideAsync(request, found[0].Entry, found[0].Similarity, cancellationToken);
            }

            TextFeatures? features = null;
            for (int i = 0; i < count; i++)
            {
                (SemanticEntry entry, float similarity) = found[i];
                if (similarity < request.Threshold)
                {
                    break;
                }

                features ??= TextFeatures.Extract(request.Query);
                string? veto = (similarity <= entry.WrongAt ? "reported" : null)
                    ?? GuardCheck.Veto(features, entry.Features, _guards, _lexicalFloor)
                    ?? (request.Verify && !await VerifyAsync(request, entry, similarity, cancellationToken) ? "verifier" : null);
                if (veto is null)
                {
                    return (entry, similarity);
                }

                Log.Vetoed(_logger, similarity, veto);
                _telemetry.Veto(veto);
            }

            return (null, count > 0 ? found[0].Similarity : 0f);
        }
        finally
        {
            Array.Clear(found, 0, _candidates);
            ArrayPool<(SemanticEntry, float)>.Shared.Return(found);
        }
    }

    private async ValueTask<bool> VerifyAsync(SemanticRequest request, SemanticEntry entry, float similarity, CancellationToken cancellationToken) =>
        await TryVerifyAsync(request, entry, similarity, cancellationToken) == true;

    // The verifier's verdict, or null when it failed (a failure is no verdict: nothing is learned from it).
    private async ValueTask<bool?> TryVerifyAsync(SemanticRequest request, SemanticEntry entry, float similarity, CancellationToken cancellationToken)
    {
        try
        {
            SemanticHitCandidate candidate = new(request.Query, entry.Prompt, entry.Answer.ToResponse().Text, similarity, request.Context);
            return await _verifier!.VerifyAsync(candidate, cancellationToken);
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            Log.VerifierFailed(_logger, ex);
            return null;
        }
    }

    private void AddEmbeddingEntry(SemanticRequest request, GeneratedEmbeddings<Embedding<float>> generated)
    {
        DateTimeOffset now = _timeProvider.GetUtcNow();
        EmbeddingGeneratorMetadata? metadata = _embedder.GetService<EmbeddingGeneratorMetadata>();
        string? modelId = (generated.Count > 0 ? generated[0].ModelId : null) ?? metadata?.DefaultModelId;
        bool estimated = generated.Usage?.InputTokenCount is null;
        long input = generated.Usage?.InputTokenCount ?? TiktokenTokenEstimator.Default.CountTokens(request.Query, modelId);
        TokenCounts tokens = new() { Input = input };
        if (_embedderIsLocal)
        {
            request.Receipt.Add(new CostReceiptEntry
            {
                Kind = CostEntryKind.Embedding,
                ModelId = modelId,
                Provider = metadata?.ProviderName,
                Tokens = tokens,
                Cost = default(CostBreakdown),
                IsEstimated = estimated,
                Timestamp = now,
                Stage = StageName,
            });
            return;
        }

        request.Receipt.Add(_pricer.Price(
            CostEntryKind.Embedding, modelId, metadata?.ProviderName, tokens, estimated, batch: false, now, StageName, mayThrow: false));
    }

    private async ValueTask StoreOrExplainAsync(SemanticRequest request, PromptCacheEntry? entry, string? modelId, string? reason)
    {
        if (entry is null)
        {
            NotStored(modelId, reason ?? PromptCacheCapture.Unserializable);
            return;
        }

        if (request.SkipWrite || request.Vector is null)
        {
            return;
        }

        await _replica.AddAsync(request.Group, request.Partition, request.Query, request.Vector, entry, request.TimeToLive ?? _timeToLive);
    }

    private float AppliedThreshold(SemanticRequest request) => _bound?.Threshold ?? request.Threshold;

    private static ChatResponse Attach(SemanticRequest request, ChatResponse response, float? similarity, float threshold)
    {
        AdditionalPropertiesDictionary properties = response.AdditionalProperties ??= [];
        properties[CostAwareProperties.Receipt] = request.Receipt;
        if (request.Vector is not null)
        {
            properties[CostAwareProperties.SemanticThreshold] = threshold;
        }

        if (similarity is { } s)
        {
            properties[CostAwareProperties.SemanticSimilarity] = s;
            properties[CostAwareProperties.CacheHit] = request.NearExact ? "near-exact" : "semantic";
        }

        return response;
    }

    private async ValueTask SettleHitAsync(SemanticRequest request, SemanticEntry hit, float similarity)
    {
        _store.Touch(hit);
        decimal? avoided = CacheSettlement.AddHitEntries(_pricer, request.Receipt, hit.Answer, _timeProvider.GetUtcNow(), StageName);
        _hits.Remember(request.Receipt.Id, new HitLog.Hit(hit, similarity, avoided, request.Receipt.Scope, request.Policy));
        Log.Hit(_logger, similarity, hit.Answer.ModelId, avoided, EmbeddingCost(request.Receipt));
        await SettleAsync(request, "hit", avoided);
    }

    private static decimal EmbeddingCost(CostReceipt receipt)
    {
        decimal total = 0m;
        foreach (CostReceiptEntry entry in receipt.Entries)
        {
            if (entry.Kind == CostEntryKind.Embedding && entry.Stage == StageName)
            {
                total += entry.Cost?.Total ?? 0m;
            }
        }

        return total;
    }

    private async ValueTask SettleAsync(SemanticRequest request, string result, decimal? avoided)
    {
        RecordLookup(result, request.Receipt.Scope, avoided);
        if (request.OwnsReceipt)
        {
            await CacheSettlement.CompleteAsync(request.Context, _recordToLedger ? _ledger : null, _logger);
        }
    }

    // A budget admitted the call for cache hits only: on a miss it is refused (by the budget, through the call's
    // context) before the inner stages or any provider are asked.
    private async ValueTask RefuseIfCacheOnlyAsync(IEnumerable<ChatMessage> messages, SemanticRequest request, CancellationToken cancellationToken)
    {
        if (request.Context.IsCacheOnly)
        {
            await CacheSettlement.RefuseProviderCallAsync(request.Context, messages, request.Options, Metadata.DefaultModelId, cancellationToken);
        }
    }

    private static string Outcome(SemanticRequest request) =>
        request.Vector is null ? "bypass" : request.VerifyEntry is null ? "miss" : "verify";

    // Error-bounded mode: serve the nearest entry, have the provider answer and compare (verify), or miss. With a judge,
    // a verification asks the ISemanticHitVerifier instead, and its yes is served.
    private async ValueTask<(SemanticEntry? Hit, float Similarity)> DecideAsync(SemanticRequest request, SemanticEntry best, float similarity, CancellationToken cancellationToken)
    {
        (BoundDecision decision, int policy) = _bound!.Decide(best, similarity, Random.Shared.NextDouble());
        request.Policy = policy;
        switch (decision)
        {
            case BoundDecision.Serve:
                return (best, similarity);
            case BoundDecision.Verify when _equivalence == SemanticAnswerEquivalence.Judge:
                if (await TryVerifyAsync(request, best, similarity, cancellationToken) is not { } right)
                {
                    return (null, similarity);
                }

                _bound.Observe(best, similarity, right, policy);
                Log.Verified(_logger, similarity, right, _bound.Threshold);
                if (right)
                {
                    best.AddAlias(request.Query);
                }

                await _replica.ShareLearningAsync(best);
                return right ? (best, similarity) : (null, similarity);
            case BoundDecision.Verify:
                request.VerifyEntry = best;
                request.VerifySimilarity = similarity;
                break;
        }

        return (null, similarity);
    }

    // Compares the provider's fresh answer with the stored one and teaches the bound; true when they are the same (the
    // stored entry then covers this text, and the fresh answer is not stored again).
    private async ValueTask<bool> LearnAsync(SemanticRequest request, string fresh, CancellationToken cancellationToken)
    {
        SemanticEntry entry = request.VerifyEntry!;
        string stored = entry.Answer.ToResponse().Text;
        bool same;
        if (_equivalence == SemanticAnswerEquivalence.NormalizedText)
        {
            same = AnswerText.SameNormalized(stored, fresh);
        }
        else
        {
            try
            {
                GeneratedEmbeddings<Embedding<float>> answers = await _embedder.GenerateAsync([stored, fresh], options: null, cancellationToken);
                AddEmbeddingEntry(request, answers);
                same = answers.Count == 2 && SemanticReplica.IsUsable(answers[0].Vector.Span) && SemanticReplica.IsUsable(answers[1].Vector.Span)
                    && TensorPrimitives.CosineSimilarity(answers[0].Vector.Span, answers[1].Vector.Span) >= _answerThreshold;
            }
            catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
            {
                // No comparison, no lesson: the fresh answer is served and stored as on a miss.
                Log.EmbeddingFailed(_logger, ex);
                return false;
            }
        }

        _bound!.Observe(entry, request.VerifySimilarity, same, request.Policy);
        if (same)
        {
            // The verified text is now a key of the entry: its repeats are near-exact hits.
            entry.AddAlias(request.Query);
        }

        Log.Verified(_logger, request.VerifySimilarity, same, _bound.Threshold);
        await _replica.ShareLearningAsync(entry);
        return same;
    }

    private void RecordLookup(string result, CostScope scope, decimal? avoided) => _telemetry.Lookup(result, scope, avoided);

    private void NotStored(string? modelId, string reason)
    {
        Log.NotStored(_logger, modelId, reason);
        _telemetry.NotStored(reason);
    }
}

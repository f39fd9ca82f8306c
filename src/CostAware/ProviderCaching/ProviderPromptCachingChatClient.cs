using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Security.Cryptography;
using System.IO.Hashing;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using CostAware.Internal;
using CostAware.Shared;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace CostAware;

/// <summary>
/// A chat client stage that places the provider's prompt-cache breakpoints for the app: where a request's prefix recurs
/// often enough, soon enough, for reads at the provider's discount to pay back the write premium. It learns from the
/// traffic it sees (per tenant, in memory, bounded) and never marks a prefix it has not seen recur, so traffic whose
/// prefixes do not recur pays no premium.
/// </summary>
/// <remarks>
/// <para>
/// Per request, at most three breakpoints: the end of the system prompt when that prompt (with the tools before it)
/// has been seen before; the end of the longest earlier request this one extends (the previous turn of a conversation
/// or an agent loop, already cached: a read); and, when it extends one, its own last message (written for the next
/// turn). The lifetime of each (for Anthropic, 5 minutes or 1 hour) follows the observed gap between arrivals of that
/// prefix: the short one when the prefix recurs within it, the long one when it recurs within the hour often enough to
/// pay the dearer write, none when it recurs more rarely. Prefixes shorter than the provider's minimum are not marked.
/// </para>
/// <para>
/// The marks are written by an <see cref="IProviderCacheHints"/> in the form the provider's client reads; the caller's
/// messages are never changed (marked messages are copies). Put it inside the caches (a cache hit needs no provider
/// cache) and outside the metering stage, which hides the call's scope from the stages inside it. Cache breakers (a
/// long prompt start that differs between calls only in a small span) are logged once per prompt family (event 91).
/// Thread-safe.
/// </para>
/// </remarks>
public sealed class ProviderPromptCachingChatClient : DelegatingChatClient
{
    private readonly IProviderCacheHints _hints;
    private readonly ProviderPromptCachingOptions _options;
    private readonly TimeProvider _timeProvider;
    private readonly ILogger _logger;
    private readonly PrefixStatistics _statistics;
    private readonly CacheBreakerDetector _breakers;
    private readonly ConditionalWeakTable<ChatMessage, MessageDigest> _digests = [];
    private readonly byte[] _salt;
    private ChatClientMetadata? _metadata;

    /// <summary>Initializes a new instance of the <see cref="ProviderPromptCachingChatClient"/> class.</summary>
    /// <param name="innerClient">The provider's client, which reads the marks <paramref name="hints"/> writes.</param>
    /// <param name="hints">How the provider's client is told where a prefix ends.</param>
    /// <param name="options">The options; <see langword="null"/> uses the defaults; copied and validated now.</param>
    /// <param name="timeProvider">The clock arrivals are timed by; <see cref="TimeProvider.System"/> when <see langword="null"/>.</param>
    /// <param name="loggerFactory">Where the stage logs, or <see langword="null"/>.</param>
    /// <exception cref="ArgumentNullException"><paramref name="innerClient"/> or <paramref name="hints"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException">The hints give a different number of write multipliers than lifetimes, or breakpoints without a lifetime.</exception>
    /// <exception cref="Microsoft.Extensions.Options.OptionsValidationException"><paramref name="options"/> are not valid.</exception>
    public ProviderPromptCachingChatClient(
        IChatClient innerClient,
        IProviderCacheHints hints,
        ProviderPromptCachingOptions? options = null,
        TimeProvider? timeProvider = null,
        ILoggerFactory? loggerFactory = null)
        : base(innerClient)
    {
        ArgumentNullException.ThrowIfNull(hints);
        if (hints.WriteMultipliers.Count != hints.TimesToLive.Count || hints.MaxBreakpoints < 0 || (hints.MaxBreakpoints > 0 && hints.TimesToLive.Count == 0))
        {
            throw new ArgumentException("The cache hints must give one write multiplier per lifetime, and at least one lifetime when they place breakpoints.", nameof(hints));
        }

        options = (options ?? new ProviderPromptCachingOptions()).Clone();
        ProviderPromptCachingOptionsValidation.ThrowIfInvalid(options);
        _hints = hints;
        _options = options;
        _timeProvider = timeProvider ?? TimeProvider.System;
        _logger = (loggerFactory ?? NullLoggerFactory.Instance).CreateLogger<ProviderPromptCachingChatClient>();
        _statistics = new PrefixStatistics(options.MaxTrackedPrefixes);
        _breakers = new CacheBreakerDetector(Math.Max(16, options.MaxTrackedPrefixes / 16));
        _salt = Encoding.UTF8.GetBytes("costaware-prompt-cache-key:" + options.RoutingKeySalt);
    }

    // How many prefixes are tracked (for tests and diagnostics).
    internal int TrackedPrefixes => _statistics.Count;

    /// <inheritdoc />
    public override Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(messages);
        MessageChecks.ThrowIfInvalid(messages, nameof(messages));
        (IEnumerable<ChatMessage> sent, ChatOptions? forwarded) = Place(messages, options);
        return base.GetResponseAsync(sent, forwarded, cancellationToken);
    }

    /// <inheritdoc />
    public override IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(
        IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(messages);
        MessageChecks.ThrowIfInvalid(messages, nameof(messages));
        (IEnumerable<ChatMessage> sent, ChatOptions? forwarded) = Place(messages, options);
        return base.GetStreamingResponseAsync(sent, forwarded, cancellationToken);
    }

    private ChatClientMetadata Metadata => _metadata ??= InnerClient.GetService<ChatClientMetadata>() ?? new ChatClientMetadata();

    // The messages to send (the caller's, with copies of the messages that end a prefix worth caching marked) and the
    // options (with the provider's routing key for the stable prefix, where it has one).
    private (IEnumerable<ChatMessage> Messages, ChatOptions? Options) Place(IEnumerable<ChatMessage> messages, ChatOptions? options)
    {
        IList<ChatMessage> list = messages as IList<ChatMessage> ?? [.. messages];
        if (list.Count == 0)
        {
            return (list, options);
        }

        string? modelId = options?.ModelId ?? Metadata.DefaultModelId;
        int minimum = Math.Max(_options.MinimumPrefixTokens, _hints.MinimumPrefixTokens(modelId));
        long nowMs = _timeProvider.GetUtcNow().ToUnixTimeMilliseconds();
        CostScope scope = CostCallContext.Find(options)?.Scope ?? options.ResolveCostScope();
        UInt128 tenant = TenantKey(scope.Tenant);

        // The prefix after each message: a hash chained over the tenant, the tools and every message so far, and the
        // tokens so far.
        int count = list.Count;
        UInt128[] keys = new UInt128[count];
        long[] tokens = new long[count];
        XxHash128 hash = new();
        Span<byte> tenantBytes = stackalloc byte[16];
        BinaryPrimitives.WriteUInt128LittleEndian(tenantBytes, tenant);
        hash.Append(tenantBytes);
        long running = AppendTools(hash, options?.Tools);
        int systemEnd = -1;
        Span<byte> digestBytes = stackalloc byte[16];
        for (int i = 0; i < count; i++)
        {
            ChatMessage message = list[i];
            if (systemEnd == i - 1 && (message.Role == ChatRole.System || message.Role.Value == "developer"))
            {
                systemEnd = i;
            }

            // A message's digest is computed once per message object: an agent loop resends the same objects every turn.
            MessageDigest digest = _digests.GetValue(message, static m => Digest(m));
            BinaryPrimitives.WriteUInt128LittleEndian(digestBytes, digest.Hash);
            hash.Append(digestBytes);
            running += digest.Tokens;
            keys[i] = hash.GetCurrentHashAsUInt128();
            tokens[i] = running;
        }

        if (_options.DetectCacheBreakers && tokens[0] >= minimum)
        {
            ReportBreaker(tenant, list[0].Text);
        }

        // The routing key: the stable prefix (the system prompt, or else the first message) with the tenant, hashed.
        int stable = systemEnd >= 0 ? systemEnd : 0;
        ChatOptions? forwarded = tokens[stable] >= minimum ? _hints.WithRoutingKey(options, RoutingKey(keys[stable])) : options;
        if (_hints.MaxBreakpoints == 0)
        {
            ObserveSeen(tenant, keys, tokens, systemEnd, minimum, nowMs);
            return (list, forwarded);
        }

        // What to mark: the system prompt that recurs; the longest earlier request this one extends (cached by its own
        // tail mark: a read); this request's tail when it extends one (written for the next turn).
        Span<(int Index, TimeSpan TimeToLive)> marks = stackalloc (int, TimeSpan)[3];
        int marked = 0;
        if (systemEnd >= 0 && tokens[systemEnd] >= minimum && TimeToLive(keys[systemEnd], nowMs) is { } systemTtl)
        {
            marks[marked++] = (systemEnd, systemTtl);
        }

        bool extends = false;
        for (int i = count - 2; i > systemEnd; i--)
        {
            if (tokens[i] < minimum)
            {
                break;
            }

            if (_statistics.Find(keys[i]) is { } earlier)
            {
                extends = true;
                _statistics.ObserveExtended(tenant, earlier);
                TimeSpan ttl = TimeToLive(keys[i], nowMs) ?? _hints.TimesToLive[0];
                marks[marked++] = (i, ttl);
                if (tokens[count - 1] >= minimum)
                {
                    marks[marked++] = (count - 1, ttl);
                }

                break;
            }
        }

        // A first turn's tail is written too when this tenant's requests are usually extended (an agent loop, a
        // conversation): often enough that the expected read pays back the write premium.
        if (!extends && tokens[count - 1] >= minimum && systemEnd != count - 1 && ContinuesOften(tenant))
        {
            marks[marked++] = (count - 1, _hints.TimesToLive[0]);
        }

        ObserveSeen(tenant, keys, tokens, systemEnd, minimum, nowMs);
        return (marked == 0 ? list : Mark(list, marks[..Math.Min(marked, _hints.MaxBreakpoints)]), forwarded);
    }

    // Seen now: the system prompt and this request as a whole (what the next turn will extend).
    private void ObserveSeen(UInt128 tenant, UInt128[] keys, long[] tokens, int systemEnd, int minimum, long nowMs)
    {
        int last = keys.Length - 1;
        if (systemEnd >= 0 && tokens[systemEnd] >= minimum)
        {
            _statistics.Observe(keys[systemEnd], nowMs);
        }

        if (tokens[last] >= minimum && systemEnd != last)
        {
            _statistics.ObserveRequest(tenant, keys[last], nowMs);
        }
    }

    // A routing key for a prefix (whose hash already includes the tenant's): an HMAC-SHA-256 under the salt, cut to 32 hex
    // digits, that says nothing of the tenant or the text. The prefix hash is not cryptographic; the key sent out is.
    private string RoutingKey(UInt128 prefix)
    {
        Span<byte> bytes = stackalloc byte[16];
        BinaryPrimitives.WriteUInt128LittleEndian(bytes, prefix);
        Span<byte> mac = stackalloc byte[HMACSHA256.HashSizeInBytes];
        _ = HMACSHA256.HashData(_salt, bytes, mac);
        return "ca-" + Convert.ToHexStringLower(mac[..16]);
    }

    // Whether, among this tenant's long requests so far (at least 20), enough were extended by a later one that writing
    // a request's tail pays back: extended share x read saving >= write premium.
    private bool ContinuesOften(UInt128 tenant)
    {
        (long requests, long extended) = _statistics.Continuations(tenant);
        return requests >= 20 && (decimal)extended / requests * (1m - _hints.ReadMultiplier) >= _hints.WriteMultipliers[0] - 1m;
    }

    // The lifetime whose write pays back at the gap this prefix arrives at, or null when none does (or it was seen once
    // only, long ago: nothing says it recurs).
    private TimeSpan? TimeToLive(UInt128 key, long nowMs)
    {
        if (_statistics.Find(key) is not { } prefix)
        {
            return null;
        }

        (int count, double gapMs) = prefix.Read(nowMs);
        IReadOnlyList<TimeSpan> ttls = _hints.TimesToLive;
        for (int t = 0; t < ttls.Count; t++)
        {
            double lifetimeMs = ttls[t].TotalMilliseconds;

            // Reads expected within the lifetime, at the observed gap (with a margin: the gap varies), against the write
            // premium over a plain input token.
            double gap = Math.Max(gapMs, 1);
            double reads = Math.Floor(0.8 * lifetimeMs / gap);
            decimal premium = _hints.WriteMultipliers[t] - 1m;
            decimal saving = 1m - _hints.ReadMultiplier;
            if (count >= 1 && gap <= 0.8 * lifetimeMs && (decimal)reads * saving >= premium)
            {
                return ttls[t];
            }
        }

        return null;
    }

    private ChatMessage[] Mark(IList<ChatMessage> list, ReadOnlySpan<(int Index, TimeSpan TimeToLive)> marks)
    {
        ChatMessage[] copy = [.. list];
        foreach ((int index, TimeSpan ttl) in marks)
        {
            ChatMessage message = copy[index];
            for (int c = message.Contents.Count - 1; c >= 0; c--)
            {
                if (_hints.MarkBreakpoint(message.Contents[c], ttl) is { } markedContent)
                {
                    ChatMessage clone = message.Clone();
                    List<AIContent> contents = [.. message.Contents];
                    contents[c] = markedContent;
                    clone.Contents = contents;
                    copy[index] = clone;
                    break;
                }
            }
        }

        return copy;
    }

    private void ReportBreaker(UInt128 tenant, string text)
    {
        if (_breakers.Observe(tenant, text) is { } span)
        {
            Log.ProviderCacheBreaker(_logger, span.Offset, span.Length, text.Length);
            CostAwareMetrics.Shared.RecordProviderCacheBreaker();
        }
    }

    private static long AppendTools(XxHash128 hash, IList<AITool>? tools)
    {
        if (tools is not { Count: > 0 })
        {
            return 0;
        }

        long total = 0;
        foreach (AITool tool in tools)
        {
            string declared = tool is AIFunctionDeclaration function
                ? string.Concat(function.Name, "\n", function.Description, "\n", function.JsonSchema.GetRawText())
                : string.Concat(tool.Name, "\n", tool.Description);
            AppendText(hash, declared);
            total += CountTokens(declared);
        }

        return total;
    }

    // A message's role and contents, as the provider sees them, hashed; and its tokens.
    private static MessageDigest Digest(ChatMessage message)
    {
        XxHash128 hash = new();
        AppendText(hash, message.Role.Value);
        long total = 4;
        foreach (AIContent content in message.Contents)
        {
            string text = content switch
            {
                TextContent t => t.Text,
                TextReasoningContent r => r.Text,
                FunctionCallContent call => string.Concat(call.CallId, call.Name, JsonSerializer.Serialize(call.Arguments, AIJsonUtilities.DefaultOptions)),
                FunctionResultContent result => string.Concat(result.CallId, JsonSerializer.Serialize(result.Result, AIJsonUtilities.DefaultOptions)),
                DataContent data => string.Concat(data.MediaType, Convert.ToHexString(XxHash128.Hash(data.Data.Span))),
                UriContent uri => uri.Uri.ToString(),
                _ => content.GetType().Name,
            };
            AppendText(hash, text);
            total += content is DataContent ? 1000 : CountTokens(text);
        }

        return new MessageDigest(hash.GetCurrentHashAsUInt128(), total);
    }

    private sealed record class MessageDigest(UInt128 Hash, long Tokens);

    // Tokens are estimated from the UTF-8 size, a third of a token per byte: enough to compare a prefix with a minimum, and
    // far cheaper than tokenizing a long context on every call. It over-counts English (about four bytes a token) and
    // matches CJK text (three bytes a character); a mark on a prefix the provider finds too short is ignored, unpaid.
    private static long CountTokens(string text) => text.Length == 0 ? 0 : (Encoding.UTF8.GetByteCount(text) + 2) / 3;

    private static void AppendText(XxHash128 hash, string text)
    {
        hash.Append(MemoryMarshal.AsBytes(text.AsSpan()));
        hash.Append([0, 0]);
    }

    // The tenant as a key: hashed, so that statistics hold no tenant id.
    private static UInt128 TenantKey(string? tenant) =>
        tenant is null ? UInt128.Zero : XxHash128.HashToUInt128(Encoding.UTF8.GetBytes(tenant));
}

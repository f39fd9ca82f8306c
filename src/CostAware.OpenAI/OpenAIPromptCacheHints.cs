using System.Diagnostics.CodeAnalysis;
using Microsoft.Extensions.AI;
using OpenAI.Chat;

namespace CostAware;

/// <summary>
/// OpenAI's prompt cache, as <see cref="ProviderPromptCachingChatClient"/> needs to know it: OpenAI caches prefixes of
/// 1,024 tokens or more by itself, with no breakpoints and no write premium, and routes requests by
/// <c>prompt_cache_key</c>, which decides whether requests that share a prefix reach the machine that holds it. The
/// stage sets the key to a hash of the tenant and the stable prefix; this class writes it as the official OpenAI SDK sends
/// it through Microsoft.Extensions.AI (on the <c>ChatCompletionOptions</c> made by <c>ChatOptions.RawRepresentationFactory</c>).
/// </summary>
[Experimental("CAEXP001")]
public sealed class OpenAIPromptCacheHints : IProviderCacheHints
{
    private OpenAIPromptCacheHints()
    {
    }

    /// <summary>Gets the hints.</summary>
    public static OpenAIPromptCacheHints Instance { get; } = new();

    /// <inheritdoc />
    public IReadOnlyList<TimeSpan> TimesToLive { get; } = [];

    /// <inheritdoc />
    public IReadOnlyList<decimal> WriteMultipliers { get; } = [];

    /// <inheritdoc />
    /// <remarks>What OpenAI bills cached input at depends on the model; the catalog prices it on the receipt.</remarks>
    public decimal ReadMultiplier => 0.5m;

    /// <inheritdoc />
    public int MaxBreakpoints => 0;

    /// <inheritdoc />
    public int MinimumPrefixTokens(string? modelId) => 1024;

    /// <inheritdoc />
    public AIContent? MarkBreakpoint(AIContent content, TimeSpan timeToLive) => null;

    /// <inheritdoc />
    /// <remarks>
    /// A <c>ChatCompletionOptions</c> the caller's own <c>RawRepresentationFactory</c> makes is kept, with the key added; a
    /// key the caller set there already is left as it is.
    /// </remarks>
    public ChatOptions? WithRoutingKey(ChatOptions? options, string key)
    {
        ArgumentException.ThrowIfNullOrEmpty(key);
        ChatOptions copy = options?.Clone() ?? new ChatOptions();
        Func<IChatClient, object?>? callers = copy.RawRepresentationFactory;
        copy.RawRepresentationFactory = client =>
        {
            object? raw = callers?.Invoke(client);
            if (raw is not null and not ChatCompletionOptions)
            {
                // Another provider's options: nothing of OpenAI's to set.
                return raw;
            }

            ChatCompletionOptions completion = raw as ChatCompletionOptions ?? new ChatCompletionOptions();
#pragma warning disable SCME0001 // JsonPatch is how the SDK sends fields it has no property for.
            if (!completion.Patch.Contains("$.prompt_cache_key"u8))
            {
                completion.Patch.Set("$.prompt_cache_key"u8, key);
            }
#pragma warning restore SCME0001

            return completion;
        };
        return copy;
    }
}

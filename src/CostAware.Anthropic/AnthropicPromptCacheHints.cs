using System.Diagnostics.CodeAnalysis;
using Anthropic.Models.Messages;
using Microsoft.Extensions.AI;

namespace CostAware;

/// <summary>
/// Anthropic's prompt cache, as <see cref="ProviderPromptCachingChatClient"/> needs to know it: breakpoints written as the
/// official SDK's <see cref="IChatClient"/> (<c>AnthropicClient.AsIChatClient</c>) reads them (the SDK's own
/// <c>WithCacheControl</c> on the content that ends the prefix), lifetimes of 5 minutes and 1 hour (writes at 1.25× and
/// 2× the input price, reads at 0.1×), at most 4 breakpoints, and each model's minimum cacheable prefix.
/// </summary>
[Experimental("CAEXP001")]
public sealed class AnthropicPromptCacheHints : IProviderCacheHints
{
    // Minimum cacheable prefix by model family, most specific first (Anthropic's prompt caching guide).
    private static readonly (string Prefix, int Tokens)[] Minimums =
    [
        ("claude-opus-4-6", 4096), ("claude-opus-4-5", 4096), ("claude-haiku-4-5", 4096),
        ("claude-sonnet-4-6", 2048), ("claude-3-5-haiku", 2048), ("claude-3-haiku", 2048), ("claude-haiku-3", 2048),
    ];

    private AnthropicPromptCacheHints()
    {
    }

    /// <summary>Gets the hints.</summary>
    public static AnthropicPromptCacheHints Instance { get; } = new();

    /// <inheritdoc />
    public IReadOnlyList<TimeSpan> TimesToLive { get; } = [TimeSpan.FromMinutes(5), TimeSpan.FromHours(1)];

    /// <inheritdoc />
    public IReadOnlyList<decimal> WriteMultipliers { get; } = [1.25m, 2m];

    /// <inheritdoc />
    public decimal ReadMultiplier => 0.1m;

    /// <inheritdoc />
    public int MaxBreakpoints => 4;

    /// <inheritdoc />
    public int MinimumPrefixTokens(string? modelId)
    {
        if (modelId is not null)
        {
            foreach ((string prefix, int tokens) in Minimums)
            {
                if (modelId.StartsWith(prefix, StringComparison.OrdinalIgnoreCase))
                {
                    return tokens;
                }
            }
        }

        return 1024;
    }

    /// <inheritdoc />
    /// <remarks>Text, tool results, images and documents carry a mark; other content (a tool call, reasoning) does not.</remarks>
    public AIContent? MarkBreakpoint(AIContent content, TimeSpan timeToLive)
    {
        ArgumentNullException.ThrowIfNull(content);
        Ttl ttl = timeToLive >= TimeSpan.FromHours(1) ? Ttl.Ttl1h : Ttl.Ttl5m;
        AIContent? copy = content switch
        {
            TextContent text => new TextContent(text.Text) { RawRepresentation = text.RawRepresentation, Annotations = text.Annotations },
            FunctionResultContent result => new FunctionResultContent(result.CallId, result.Result) { Exception = result.Exception, RawRepresentation = result.RawRepresentation },
            DataContent data => new DataContent(data.Data, data.MediaType) { Name = data.Name, RawRepresentation = data.RawRepresentation },
            _ => null,
        };
        if (copy is null)
        {
            return null;
        }

        if (content.AdditionalProperties is { } properties)
        {
            copy.AdditionalProperties = new(properties);
        }

        return copy.WithCacheControl(ttl);
    }

    /// <inheritdoc />
    /// <remarks>Anthropic routes by nothing a request sets: the options are returned as they are.</remarks>
    public ChatOptions? WithRoutingKey(ChatOptions? options, string key) => options;
}

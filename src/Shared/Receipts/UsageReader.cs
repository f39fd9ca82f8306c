using Microsoft.Extensions.AI;

namespace CostAware.Shared;

// Maps a provider's UsageDetails onto TokenCounts, whose classes are subsets of input and output.
// Where an SDK reports a class outside its parent (raw Anthropic usage counts cache reads and writes apart from
// input_tokens; Gemini counts thoughts apart from candidates), the parent is widened so nothing is dropped and
// nothing is counted twice. Keys are documented in docs/cost-model.md.
internal static class UsageReader
{
    // Anthropic's official .NET SDK (IChatClient from the Anthropic package): cache writes, included in InputTokenCount.
    public const string AnthropicCacheWriteKey = "CacheCreationInputTokens";

    // The wire names, used by adapters that copy the provider's usage object as it is.
    public const string WireCacheWriteKey = "cache_creation_input_tokens";
    public const string WireCacheWrite5mKey = "cache_creation.ephemeral_5m_input_tokens";
    public const string WireCacheWrite1hKey = "cache_creation.ephemeral_1h_input_tokens";

    // Microsoft.Extensions.AI.OpenAI before CachedInputTokenCount and ReasoningTokenCount existed.
    public const string OpenAICachedKey = "InputTokenDetails.CachedTokenCount";
    public const string OpenAIReasoningKey = "OutputTokenDetails.ReasoningTokenCount";

    // A call's tokens: the provider's reported usage, or, when it reported none, the input as the tokenizer counts it
    // and the output from the answer's text. Returns whether they are estimated. Shared by every stage that prices a
    // response itself, so that a call is counted the same way wherever it is priced.
    public static bool ReadOrEstimate(
        UsageDetails? usage, ITokenEstimator estimator, IEnumerable<ChatMessage> messages, ChatOptions? options, string? modelId, string? outputText, out TokenCounts tokens, out bool widened)
    {
        if (TryRead(usage, out tokens, out widened))
        {
            return false;
        }

        tokens = new TokenCounts
        {
            Input = estimator.EstimateInputTokens(messages, options, modelId),
            Output = outputText is null ? 0 : estimator.CountTokens(outputText, modelId),
        };
        return true;
    }

    public static bool TryRead(UsageDetails? usage, out TokenCounts counts, out bool widened)
    {
        widened = false;
        counts = default;
        if (usage is null)
        {
            return false;
        }

        long? input = usage.InputTokenCount;
        long? output = usage.OutputTokenCount;
        if (input is null && output is null)
        {
            return false;
        }

        if (usage.TotalTokenCount is long total)
        {
            input ??= total - output;
            output ??= total - input;
        }

        AdditionalPropertiesDictionary<long>? extra = usage.AdditionalCounts;
        long cached = usage.CachedInputTokenCount ?? Get(extra, OpenAICachedKey) ?? 0;
        long reasoning = usage.ReasoningTokenCount ?? Get(extra, OpenAIReasoningKey) ?? 0;
        long write1h = Get(extra, WireCacheWrite1hKey) ?? 0;
        long writeAll = Get(extra, AnthropicCacheWriteKey) ?? Get(extra, WireCacheWriteKey)
            ?? ((Get(extra, WireCacheWrite5mKey) ?? 0) + write1h);
        long write5m = Math.Max(0, writeAll - write1h);

        long inputTokens = Math.Max(0, input ?? 0);
        long outputTokens = Math.Max(0, output ?? 0);
        cached = Math.Max(0, cached);
        reasoning = Math.Max(0, reasoning);
        write1h = Math.Max(0, write1h);

        if (cached + write5m + write1h > inputTokens)
        {
            inputTokens += cached + write5m + write1h;
            widened = true;
        }

        if (reasoning > outputTokens)
        {
            outputTokens += reasoning;
            widened = true;
        }

        counts = new TokenCounts
        {
            Input = inputTokens,
            CachedInput = cached,
            CacheWrite = write5m,
            CacheWrite1h = write1h,
            Output = outputTokens,
            Reasoning = reasoning,
        };
        return true;
    }

    private static long? Get(AdditionalPropertiesDictionary<long>? extra, string key) =>
        extra is not null && extra.TryGetValue(key, out long value) ? value : null;
}

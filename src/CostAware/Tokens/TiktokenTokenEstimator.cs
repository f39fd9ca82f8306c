using System.Text.Json;
using Microsoft.Extensions.AI;
using Microsoft.ML.Tokenizers;

namespace CostAware;

/// <summary>
/// Counts tokens with Microsoft.ML.Tokenizers: <c>o200k_base</c> for GPT-4o, GPT-4.1, GPT-5 and the o-series,
/// <c>cl100k_base</c> for GPT-4, GPT-3.5 and OpenAI's embedding models, and <c>o200k_base</c> as the documented
/// approximation for model families whose tokenizer is not public (Claude, Gemini, Grok) or not bundled here
/// (Mistral, DeepSeek).
/// </summary>
/// <remarks>
/// <para>
/// A chat request is estimated as OpenAI documents it: every message costs 3 tokens plus its content (plus 1 for a
/// name), and the reply is primed with 3 more. Tool definitions count their name, description and JSON schema. An
/// image counts 765 tokens (a 1024×1024 image at high detail); other binary content counts nothing. The provider's
/// reported usage always replaces these estimates once a call returns. See <c>docs/token-estimation.md</c> for the
/// measured error of the approximation.
/// </para>
/// <para>This type is thread-safe; the tokenizers load once, on first use.</para>
/// </remarks>
public sealed class TiktokenTokenEstimator : ITokenEstimator
{
    private const int TokensPerMessage = 3;
    private const int TokensPerName = 1;
    private const int ReplyPriming = 3;
    private const int TokensPerImage = 765;
    private const int TokensPerTool = 8;

    // Providers receive compact JSON; AIJsonUtilities.DefaultOptions indents, which would overcount.
    private static readonly JsonSerializerOptions CompactJson = new(AIJsonUtilities.DefaultOptions) { WriteIndented = false };

    private static readonly Lazy<Tokenizer> O200k = new(static () => TiktokenTokenizer.CreateForEncoding("o200k_base"));
    private static readonly Lazy<Tokenizer> Cl100k = new(static () => TiktokenTokenizer.CreateForEncoding("cl100k_base"));

    /// <summary>Gets the shared instance.</summary>
    public static TiktokenTokenEstimator Default { get; } = new();

    /// <summary>Returns the encoding used for a model: <c>o200k_base</c> or <c>cl100k_base</c>.</summary>
    /// <param name="modelId">The model, or <see langword="null"/>.</param>
    /// <returns>The encoding's name.</returns>
    public static string GetEncodingName(string? modelId) => UsesCl100k(modelId) ? "cl100k_base" : "o200k_base";

    /// <inheritdoc />
    /// <remarks>Counting takes time linear in the length of the text, whatever it holds (see <c>docs/token-estimation.md</c>).</remarks>
    public int CountTokens(ReadOnlySpan<char> text, string? modelId) =>
        text.IsEmpty ? 0 : Count(TokenizerFor(modelId), text);

    /// <inheritdoc />
    /// <exception cref="ArgumentNullException"><paramref name="messages"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException">A message, or a content item of one, is <see langword="null"/>; the message names its index.</exception>
    public int EstimateInputTokens(IEnumerable<ChatMessage> messages, ChatOptions? options, string? modelId)
    {
        ArgumentNullException.ThrowIfNull(messages);
        Shared.MessageChecks.ThrowIfInvalid(messages, nameof(messages));
        Tokenizer tokenizer = TokenizerFor(modelId);
        int total = ReplyPriming;
        if (options?.Instructions is { Length: > 0 } instructions)
        {
            total += TokensPerMessage + Count(tokenizer, instructions);
        }

        foreach (ChatMessage message in messages)
        {
            total += TokensPerMessage;
            if (message.AuthorName is { Length: > 0 } name)
            {
                total += TokensPerName + Count(tokenizer, name);
            }

            foreach (AIContent content in message.Contents)
            {
                total += CountContent(tokenizer, content);
            }
        }

        if (options?.Tools is { Count: > 0 } tools)
        {
            foreach (AITool tool in tools)
            {
                total += TokensPerTool + Count(tokenizer, tool.Name) + (tool.Description is { Length: > 0 } d ? Count(tokenizer, d) : 0);
                if (tool is AIFunctionDeclaration function)
                {
                    total += Count(tokenizer, function.JsonSchema.GetRawText());
                }
            }
        }

        if (options?.ResponseFormat is ChatResponseFormatJson { Schema: { } schema })
        {
            total += Count(tokenizer, schema.GetRawText());
        }

        return total;
    }

    private static int CountContent(Tokenizer tokenizer, AIContent content) => content switch
    {
        TextContent text => Count(tokenizer, text.Text),
        TextReasoningContent reasoning => Count(tokenizer, reasoning.Text),
        FunctionCallContent call => Count(tokenizer, call.Name)
            + (call.Arguments is null ? 0 : Count(tokenizer, JsonSerializer.Serialize(call.Arguments, CompactJson))),
        FunctionResultContent result => result.Result switch
        {
            null => 0,
            string s => Count(tokenizer, s),
            _ => Count(tokenizer, JsonSerializer.Serialize(result.Result, CompactJson)),
        },
        DataContent data when data.HasTopLevelMediaType("image") => TokensPerImage,
        UriContent uri when uri.HasTopLevelMediaType("image") => TokensPerImage,
        _ => 0,
    };

    // Byte-pair merging is quadratic in the length of one pre-token, and a run of one character (or any long word
    // without a break) is a single pre-token: a megabyte of 'a' took minutes, on the caller's thread, before a budget
    // could refuse it. So text is counted in pieces of at most MaxPiece characters, cut just before a whitespace
    // character that follows a non-whitespace one (where the pre-tokenizer cuts anyway, so ordinary text counts the
    // same), and cut hard only inside a run with no such place (a token or so of difference per cut).
    // Counting is then linear in the length of any input.
    internal const int MaxPiece = 512;

    internal static int Count(Tokenizer tokenizer, ReadOnlySpan<char> text)
    {
        int total = 0;
        while (text.Length > MaxPiece)
        {
            int cut = CutPoint(text[..(MaxPiece + 1)]);
            total += tokenizer.CountTokens(text[..cut]);
            text = text[cut..];
        }

        return total + tokenizer.CountTokens(text);
    }

    // Where to end the next piece: the last whitespace after a non-whitespace character in the window's second half,
    // or the window's end (one less, so as not to split a surrogate pair).
    internal static int CutPoint(ReadOnlySpan<char> window)
    {
        int end = window.Length - 1;
        for (int i = end; i > end / 2; i--)
        {
            if (char.IsWhiteSpace(window[i]) && !char.IsWhiteSpace(window[i - 1]))
            {
                return i;
            }
        }

        return char.IsHighSurrogate(window[end - 1]) ? end - 1 : end;
    }

    private static Tokenizer TokenizerFor(string? modelId) => UsesCl100k(modelId) ? Cl100k.Value : O200k.Value;

    private static bool UsesCl100k(string? modelId)
    {
        if (modelId is null)
        {
            return false;
        }

        ReadOnlySpan<char> name = modelId.AsSpan().Trim();
        int slash = name.LastIndexOf('/');
        if (slash >= 0)
        {
            name = name[(slash + 1)..];
        }

        // gpt-4o, gpt-4.1 and gpt-4.5 start with "gpt-4" too but use o200k_base.
        if (name.StartsWith("gpt-4o", StringComparison.OrdinalIgnoreCase) || name.StartsWith("gpt-4.", StringComparison.OrdinalIgnoreCase))
        {
            return false;
        }

        return name.StartsWith("gpt-4", StringComparison.OrdinalIgnoreCase)
            || name.StartsWith("gpt-3.5", StringComparison.OrdinalIgnoreCase)
            || name.StartsWith("text-embedding-", StringComparison.OrdinalIgnoreCase);
    }
}

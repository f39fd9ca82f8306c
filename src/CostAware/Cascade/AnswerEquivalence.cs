using System.Numerics.Tensors;
using System.Text.RegularExpressions;
using Microsoft.Extensions.AI;

namespace CostAware;

/// <summary>The built-in ways to decide whether two answers are the same (see <see cref="IAnswerEquivalence"/>).</summary>
public static partial class AnswerEquivalence
{
    /// <summary>
    /// Gets the equivalence for answers that end in a number (maths, counts, prices): equal when their last numbers are
    /// equal (thousands separators and a trailing full stop ignored); answers without numbers compare by
    /// <see cref="NormalizedText"/>.
    /// </summary>
    public static IAnswerEquivalence FinalNumber { get; } = new Delegated(SameFinalAnswer);

    /// <summary>
    /// Gets the equivalence for multiple-choice answers: equal when they choose the same letter (A to J), read from
    /// "answer is (B)", "Answer: B" or a last "(B)"; answers where no choice can be read are never equal.
    /// </summary>
    public static IAnswerEquivalence MultipleChoice { get; } = new Delegated(static (a, b) => Choice(a) is { } x && x == Choice(b));

    /// <summary>Gets the equivalence by text: equal when their words are equal, ignoring case, punctuation and white space.</summary>
    public static IAnswerEquivalence NormalizedText { get; } = new Delegated(static (a, b) => Normalize(a) == Normalize(b));

    /// <summary>Creates an equivalence from a function of the two answers' texts.</summary>
    /// <param name="equivalent">Returns <see langword="true"/> when the two texts are the same answer; must be thread-safe.</param>
    /// <returns>The equivalence.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="equivalent"/> is <see langword="null"/>.</exception>
    public static IAnswerEquivalence Create(Func<string, string, bool> equivalent)
    {
        ArgumentNullException.ThrowIfNull(equivalent);
        return new Delegated(equivalent);
    }

    /// <summary>
    /// Creates an equivalence by meaning: equal when the cosine similarity of the two answers' embeddings reaches a
    /// threshold (for free-text answers; for example with the MiniLM generator of CostAware.Onnx.MiniLM). A paid
    /// embedder's calls are not on the request's receipt: prefer a local one.
    /// </summary>
    /// <param name="embedder">The embedding generator.</param>
    /// <param name="threshold">The cosine similarity from which two answers are the same, in (0, 1].</param>
    /// <returns>The equivalence.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="embedder"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="threshold"/> is not in (0, 1].</exception>
    public static IAnswerEquivalence Embedding(IEmbeddingGenerator<string, Embedding<float>> embedder, float threshold = 0.9f)
    {
        ArgumentNullException.ThrowIfNull(embedder);
        if (!(threshold > 0f && threshold <= 1f))
        {
            throw new ArgumentOutOfRangeException(nameof(threshold), threshold, "The similarity threshold must be in (0, 1].");
        }

        return new ByEmbedding(embedder, threshold);
    }

    // The final-number rule: equal last numbers, or, for answers without numbers, equal normalised text.
    internal static bool SameFinalAnswer(string first, string second)
    {
        string? x = LastNumber(first);
        string? y = LastNumber(second);
        return x is not null || y is not null ? x == y : Normalize(first) == Normalize(second);
    }

    internal static string? LastNumber(string text)
    {
        MatchCollection numbers = Number().Matches(text);
        return numbers.Count == 0 ? null : numbers[^1].Value.Replace(",", string.Empty, StringComparison.Ordinal).TrimEnd('.').TrimStart('+');
    }

    internal static string Normalize(string text) => string.Join(' ', Word().Matches(text.ToUpperInvariant()).Select(static m => m.Value));

    private static char? Choice(string text)
    {
        Match stated = StatedChoice().Match(text);
        if (stated.Success)
        {
            return char.ToUpperInvariant(stated.Groups[1].Value[0]);
        }

        MatchCollection bracketed = BracketedChoice().Matches(text);
        return bracketed.Count > 0 ? char.ToUpperInvariant(bracketed[^1].Groups[1].Value[0]) : null;
    }

    [GeneratedRegex(@"[-+]?\d[\d,]*(?:\.\d+)?", RegexOptions.CultureInvariant, matchTimeoutMilliseconds: 1000)]
    private static partial Regex Number();

    [GeneratedRegex(@"\w+", RegexOptions.CultureInvariant, matchTimeoutMilliseconds: 1000)]
    private static partial Regex Word();

    [GeneratedRegex(@"\b(?:answer|option|choice)(?:\s+is)?\s*[:\-]?\s*\(?([A-J])\)?(?![A-Za-z])", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant | RegexOptions.RightToLeft, matchTimeoutMilliseconds: 1000)]
    private static partial Regex StatedChoice();

    [GeneratedRegex(@"\(([A-J])\)", RegexOptions.CultureInvariant, matchTimeoutMilliseconds: 1000)]
    private static partial Regex BracketedChoice();

    private sealed class Delegated(Func<string, string, bool> equivalent) : IAnswerEquivalence
    {
        public ValueTask<bool> AreEquivalentAsync(string first, string second, CancellationToken cancellationToken)
        {
            ArgumentNullException.ThrowIfNull(first);
            ArgumentNullException.ThrowIfNull(second);
            return ValueTask.FromResult(equivalent(first, second));
        }
    }

    private sealed class ByEmbedding(IEmbeddingGenerator<string, Embedding<float>> embedder, float threshold) : IAnswerEquivalence
    {
        public async ValueTask<bool> AreEquivalentAsync(string first, string second, CancellationToken cancellationToken)
        {
            ArgumentNullException.ThrowIfNull(first);
            ArgumentNullException.ThrowIfNull(second);
            GeneratedEmbeddings<Embedding<float>> vectors = await embedder.GenerateAsync([first, second], cancellationToken: cancellationToken);
            return TensorPrimitives.CosineSimilarity(vectors[0].Vector.Span, vectors[1].Vector.Span) >= threshold;
        }
    }
}

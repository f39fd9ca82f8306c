using System.Text.RegularExpressions;
using Microsoft.Extensions.AI;

namespace CostAware;

/// <summary>
/// A rule-based router: it counts signs that a request is hard — a long prompt, code, mathematics, several steps —
/// and starts requests with enough of them at a stronger tier, skipping cheap answers that would not pass anyway.
/// </summary>
/// <remarks>
/// Each sign adds one point (0 to 4). With two tiers, requests with at least <c>escalateAt</c> points start at the
/// strong tier; with more tiers, points map linearly onto the tiers from <c>escalateAt</c> up. Thread-safe.
/// </remarks>
public sealed partial class ComplexityCascadeRouter : ICascadeRouter
{
    private readonly int _escalateAt;
    private readonly int _longPrompt;

    /// <summary>Initializes a new instance of the <see cref="ComplexityCascadeRouter"/> class.</summary>
    /// <param name="escalateAt">The points (1 to 4) from which a request skips the cheapest tier.</param>
    /// <param name="longPromptCharacters">The prompt length, in characters, that counts as a sign of difficulty.</param>
    /// <exception cref="ArgumentOutOfRangeException">An argument is out of range.</exception>
    public ComplexityCascadeRouter(int escalateAt = 2, int longPromptCharacters = 1_500)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(escalateAt, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(escalateAt, 4);
        ArgumentOutOfRangeException.ThrowIfLessThan(longPromptCharacters, 1);
        _escalateAt = escalateAt;
        _longPrompt = longPromptCharacters;
    }

    /// <summary>Scores a prompt's difficulty: one point each for length, code, mathematics and several steps.</summary>
    /// <param name="prompt">The prompt text.</param>
    /// <returns>0 to 4.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="prompt"/> is <see langword="null"/>.</exception>
    public int Complexity(string prompt)
    {
        ArgumentNullException.ThrowIfNull(prompt);
        int points = prompt.Length >= _longPrompt ? 1 : 0;
        points += Code().IsMatch(prompt) ? 1 : 0;
        points += Math().IsMatch(prompt) ? 1 : 0;
        points += Steps().IsMatch(prompt) ? 1 : 0;
        return points;
    }

    /// <inheritdoc />
    public ValueTask<int> SelectStartTierAsync(IReadOnlyList<ChatMessage> messages, ChatOptions? options, int tierCount, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(messages);
        string prompt = string.Join('\n', messages.Where(static m => m.Role == ChatRole.User).Select(static m => m.Text));
        int points = Complexity(prompt);
        if (points < _escalateAt || tierCount < 2)
        {
            return ValueTask.FromResult(0);
        }

        // From escalateAt (tier 1) up to 4 points (the last tier).
        int span = 4 - _escalateAt;
        int tier = span == 0 ? tierCount - 1 : 1 + ((points - _escalateAt) * (tierCount - 2) / span);
        return ValueTask.FromResult(System.Math.Min(tier, tierCount - 1));
    }

    [GeneratedRegex(@"```|\b(def|class|function|public|return|import|SELECT|#include)\b|[{};]\s*$", RegexOptions.Multiline | RegexOptions.CultureInvariant, matchTimeoutMilliseconds: 1000)]
    private static partial Regex Code();

    [GeneratedRegex(@"\b(prove|proof|integral|derivative|equation|theorem|matrix|probability|solve for)\b|\d\s*[\^*/=]\s*\d|\bn\^2\b", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant, matchTimeoutMilliseconds: 1000)]
    private static partial Regex Math();

    [GeneratedRegex(@"\b(step by step|step-by-step|first\b.*\bthen\b|and then|explain why|explain the|compare|analy[sz]e)\b", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant | RegexOptions.Singleline, matchTimeoutMilliseconds: 1000)]
    private static partial Regex Steps();
}

namespace CostAware.SemanticCache.Internal;

// Applies the guards and the lexical-overlap floor to a query and a cached prompt; returns why the hit is vetoed, or
// null when it passes.
internal static class GuardCheck
{
    public const string NumbersReason = "numbers";
    public const string DatesReason = "dates";
    public const string NegationReason = "negation";
    public const string EntitiesReason = "entities";
    public const string LexicalReason = "lexical_overlap";

    public static string? Veto(TextFeatures query, TextFeatures cached, SemanticGuards guards, float lexicalFloor)
    {
        if ((guards & SemanticGuards.Numbers) != 0 && !SameSet(query.Numbers, cached.Numbers))
        {
            return NumbersReason;
        }

        if ((guards & SemanticGuards.Dates) != 0 && !SameSet(query.Dates, cached.Dates))
        {
            return DatesReason;
        }

        if ((guards & SemanticGuards.Negations) != 0 && query.IsNegated != cached.IsNegated)
        {
            return NegationReason;
        }

        if ((guards & SemanticGuards.Entities) != 0 && (!AllIn(query.Entities, cached.Words) || !AllIn(cached.Entities, query.Words)))
        {
            return EntitiesReason;
        }

        if (lexicalFloor > 0f && LexicalOverlap(query.ContentWords, cached.ContentWords) < lexicalFloor)
        {
            return LexicalReason;
        }

        return null;
    }

    // Jaccard overlap of the content words (both sorted and distinct); two texts without content words overlap fully.
    public static float LexicalOverlap(string[] a, string[] b)
    {
        if (a.Length == 0 && b.Length == 0)
        {
            return 1f;
        }

        int common = 0;
        int i = 0, j = 0;
        while (i < a.Length && j < b.Length)
        {
            int c = string.CompareOrdinal(a[i], b[j]);
            if (c == 0)
            {
                common++;
                i++;
                j++;
            }
            else if (c < 0)
            {
                i++;
            }
            else
            {
                j++;
            }
        }

        return (float)common / (a.Length + b.Length - common);
    }

    private static bool SameSet(string[] a, string[] b) => a.AsSpan().SequenceEqual(b);

    private static bool AllIn(string[] items, string[] sortedWords)
    {
        foreach (string item in items)
        {
            if (Array.BinarySearch(sortedWords, item, StringComparer.Ordinal) < 0)
            {
                return false;
            }
        }

        return true;
    }
}

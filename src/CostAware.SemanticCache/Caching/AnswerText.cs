namespace CostAware.SemanticCache.Internal;

// Answer comparison for verification: equal after lower-casing, collapsing white space and trimming punctuation and
// white space at both ends ("Paris." and " paris" are the same answer; "Paris" and "Lyon" are not).
internal static class AnswerText
{
    // The near-exact tier: two prompts are the same request when they are equal after lower-casing, dropping punctuation
    // and treating runs of white space as one ("What's AI?" and "whats ai" are). Symbols (+, $, %, =), punctuation
    // between two digits ("2.5", "2-2", "1,000") and words of punctuation alone other than end marks ("#", "(,)") are
    // kept, so "2+2" and "2-2", "2.5" and "25", or "# and ##" and "() and (,)" stay different.
    public static bool SameRequest(string a, string b)
    {
        int i = 0;
        int j = 0;
        while (true)
        {
            char x = NextRequestChar(a, ref i);
            char y = NextRequestChar(b, ref j);
            if (x != y)
            {
                return false;
            }

            if (x == '\0')
            {
                return true;
            }
        }
    }

    // The next significant character, lower-cased; one ' ' for a run of white space between two significant characters
    // (dropped punctuation separates nothing: "what's" is "whats"); '\0' at the end.
    private static char NextRequestChar(string text, ref int index)
    {
        bool separated = false;
        while (index < text.Length)
        {
            if (IsSignificant(text, index))
            {
                if (separated && HasSignificantBefore(text, index))
                {
                    return ' ';
                }

                return char.ToLowerInvariant(text[index++]);
            }

            separated |= char.IsWhiteSpace(text[index]);
            index++;
        }

        return '\0';
    }

    private static bool IsSignificant(string text, int index)
    {
        char c = text[index];
        if (char.IsLetterOrDigit(c) || char.IsSymbol(c))
        {
            return true;
        }

        if (!char.IsPunctuation(c))
        {
            return false;
        }

        // Between digits ("2.5", "1,000"), or in a word of punctuation only that is more than an end mark ("#", "(,)",
        // "@?" are what the question is about; a spaced " ?" is not).
        return (index > 0 && index + 1 < text.Length && char.IsDigit(text[index - 1]) && char.IsDigit(text[index + 1]))
            || (!IsEndMark(c) && !WordHasLetterOrDigit(text, index));
    }

    private static bool IsEndMark(char c) => c is '.' or ',' or '?' or '!' or ';' or ':' or '\'' or '"' or '\u2026' or '\u2019' or '\u201C' or '\u201D';

    private static bool WordHasLetterOrDigit(string text, int index)
    {
        for (int k = index; k >= 0 && !char.IsWhiteSpace(text[k]); k--)
        {
            if (char.IsLetterOrDigit(text[k]))
            {
                return true;
            }
        }

        for (int k = index + 1; k < text.Length && !char.IsWhiteSpace(text[k]); k++)
        {
            if (char.IsLetterOrDigit(text[k]))
            {
                return true;
            }
        }

        return false;
    }

    private static bool HasSignificantBefore(string text, int index)
    {
        for (int k = index - 1; k >= 0; k--)
        {
            if (IsSignificant(text, k))
            {
                return true;
            }
        }

        return false;
    }

    public static bool SameNormalized(string a, string b)
    {
        ReadOnlySpan<char> x = Trim(a);
        ReadOnlySpan<char> y = Trim(b);
        int i = 0;
        int j = 0;
        while (true)
        {
            bool xSpace = SkipSpace(x, ref i);
            bool ySpace = SkipSpace(y, ref j);
            if (i == x.Length || j == y.Length)
            {
                return i == x.Length && j == y.Length;
            }

            if (xSpace != ySpace || char.ToLowerInvariant(x[i]) != char.ToLowerInvariant(y[j]))
            {
                return false;
            }

            i++;
            j++;
        }
    }

    private static bool SkipSpace(ReadOnlySpan<char> text, ref int index)
    {
        int start = index;
        while (index < text.Length && char.IsWhiteSpace(text[index]))
        {
            index++;
        }

        return index > start;
    }

    private static ReadOnlySpan<char> Trim(string text)
    {
        ReadOnlySpan<char> span = text.AsSpan();
        int start = 0;
        int end = span.Length;
        while (start < end && (char.IsWhiteSpace(span[start]) || char.IsPunctuation(span[start])))
        {
            start++;
        }

        while (end > start && (char.IsWhiteSpace(span[end - 1]) || char.IsPunctuation(span[end - 1])))
        {
            end--;
        }

        return span[start..end];
    }
}

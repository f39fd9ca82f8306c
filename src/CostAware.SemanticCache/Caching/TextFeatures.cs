using System.Collections.Frozen;
using System.Globalization;
using System.Text;

namespace CostAware.SemanticCache.Internal;

// What the false-hit guards compare between a query and a cached prompt, read once per text: the words, the numbers
// (digits and number words, so "2" and "two" agree), dates (months, weekdays, relative days), negation, capitalised
// names and acronyms, and the content words for the lexical-overlap floor. English only; other languages simply
// yield fewer features, so the guards veto less, never more.
internal sealed class TextFeatures
{
    private static readonly FrozenSet<string> s_stopWords = FrozenSet.Create(StringComparer.Ordinal,
        "a", "an", "the", "and", "or", "but", "if", "then", "of", "to", "in", "on", "at", "by", "for", "with", "from",
        "about", "as", "into", "like", "through", "after", "over", "between", "out", "against", "during", "before",
        "under", "around", "among", "is", "are", "was", "were", "be", "been", "being", "am", "do", "does", "did",
        "have", "has", "had", "having", "i", "me", "my", "we", "our", "you", "your", "he", "him", "his", "she", "her",
        "it", "its", "they", "them", "their", "what", "which", "who", "whom", "whose", "this", "that", "these",
        "those", "how", "why", "when", "where", "can", "could", "should", "would", "will", "shall", "may", "might",
        "must", "there", "here", "so", "than", "too", "very", "just", "also", "some", "any", "all", "most", "more",
        "such", "own", "same", "other", "each", "few", "both", "up", "down", "off", "again", "further", "once",
        "get", "one's", "i'm", "it's", "what's", "best", "way", "ways", "good", "someone", "something", "s");

    private static readonly FrozenSet<string> s_negations = FrozenSet.Create(StringComparer.Ordinal,
        "not", "no", "never", "none", "nobody", "nothing", "neither", "nor", "without", "cannot", "nowhere");

    private static readonly FrozenDictionary<string, string> s_numberWords = new Dictionary<string, string>(StringComparer.Ordinal)
    {
        ["zero"] = "0", ["one"] = "1", ["two"] = "2", ["three"] = "3", ["four"] = "4", ["five"] = "5", ["six"] = "6",
        ["seven"] = "7", ["eight"] = "8", ["nine"] = "9", ["ten"] = "10", ["eleven"] = "11", ["twelve"] = "12",
        ["thirteen"] = "13", ["fourteen"] = "14", ["fifteen"] = "15", ["sixteen"] = "16", ["seventeen"] = "17",
        ["eighteen"] = "18", ["nineteen"] = "19", ["twenty"] = "20", ["thirty"] = "30", ["forty"] = "40",
        ["fifty"] = "50", ["sixty"] = "60", ["seventy"] = "70", ["eighty"] = "80", ["ninety"] = "90",
        ["hundred"] = "100", ["thousand"] = "1000", ["million"] = "1000000", ["billion"] = "1000000000",
        ["first"] = "1st", ["second"] = "2nd", ["third"] = "3rd", ["fourth"] = "4th", ["fifth"] = "5th",
        ["half"] = "1/2", ["twice"] = "x2", ["double"] = "x2", ["triple"] = "x3",
    }.ToFrozenDictionary(StringComparer.Ordinal);

    private static readonly FrozenDictionary<string, string> s_dateWords = new Dictionary<string, string>(StringComparer.Ordinal)
    {
        ["january"] = "m1", ["jan"] = "m1", ["february"] = "m2", ["feb"] = "m2", ["march"] = "m3", ["april"] = "m4",
        ["apr"] = "m4", ["june"] = "m6", ["jun"] = "m6", ["july"] = "m7", ["jul"] = "m7", ["august"] = "m8",
        ["aug"] = "m8", ["september"] = "m9", ["sept"] = "m9", ["sep"] = "m9", ["october"] = "m10", ["oct"] = "m10",
        ["november"] = "m11", ["nov"] = "m11", ["december"] = "m12", ["dec"] = "m12",
        ["monday"] = "d1", ["tuesday"] = "d2", ["wednesday"] = "d3", ["thursday"] = "d4", ["friday"] = "d5",
        ["saturday"] = "d6", ["sunday"] = "d7", ["weekend"] = "d67",
        ["today"] = "r0", ["tonight"] = "r0", ["now"] = "r0", ["currently"] = "r0", ["tomorrow"] = "r+1",
        ["yesterday"] = "r-1", ["last"] = "r-", ["next"] = "r+", ["ago"] = "r-", ["previous"] = "r-", ["upcoming"] = "r+",
    }.ToFrozenDictionary(StringComparer.Ordinal);

    private TextFeatures(string[] words, string[] contentWords, string[] numbers, string[] dates, string[] entities, bool negated)
    {
        Words = words;
        ContentWords = contentWords;
        Numbers = numbers;
        Dates = dates;
        Entities = entities;
        IsNegated = negated;
    }

    // Every word, lower-cased, sorted and distinct.
    public string[] Words { get; }

    public string[] ContentWords { get; }

    public string[] Numbers { get; }

    public string[] Dates { get; }

    // Names and acronyms, lower-cased.
    public string[] Entities { get; }

    public bool IsNegated { get; }

    public static TextFeatures Extract(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        string normalized = text.Normalize(NormalizationForm.FormKC);
        SortedSet<string> words = new(StringComparer.Ordinal);
        SortedSet<string> content = new(StringComparer.Ordinal);
        SortedSet<string> numbers = new(StringComparer.Ordinal);
        SortedSet<string> dates = new(StringComparer.Ordinal);
        SortedSet<string> entities = new(StringComparer.Ordinal);
        int negations = 0;
        bool sentenceStart = true;

        int i = 0;
        while (i < normalized.Length)
        {
            char c = normalized[i];
            if (!char.IsLetterOrDigit(c))
            {
                if (c is '.' or '?' or '!' or ':' or ';' or '\n')
                {
                    sentenceStart = true;
                }

                i++;
                continue;
            }

            int start = i;
            while (i < normalized.Length && IsWordChar(normalized, i))
            {
                i++;
            }

            string original = normalized[start..i];
            string word = original.ToLowerInvariant();
            words.Add(word);
            bool hasDigit = word.AsSpan().IndexOfAnyInRange('0', '9') >= 0;

            if (hasDigit)
            {
                string number = word.Replace(",", string.Empty, StringComparison.Ordinal);
                if (number.Length == 4 && number[0] is '1' or '2' && int.TryParse(number, NumberStyles.None, CultureInfo.InvariantCulture, out _))
                {
                    dates.Add("y" + number);
                }

                numbers.Add(number);
            }
            else if (s_numberWords.TryGetValue(word, out string? value))
            {
                numbers.Add(value);
            }

            // "may" and "march" are dates only when capitalised mid-sentence.
            if (s_dateWords.TryGetValue(word, out string? date) && (word is not ("may" or "march") || (!sentenceStart && char.IsUpper(original[0]))))
            {
                dates.Add(date);
            }
            else if (word == "may" && !sentenceStart && char.IsUpper(original[0]))
            {
                dates.Add("m5");
            }

            if (s_negations.Contains(word) || word.EndsWith("n't", StringComparison.Ordinal))
            {
                negations++;
            }

            if (IsEntity(original, sentenceStart))
            {
                entities.Add(word);
            }

            if (!s_stopWords.Contains(word) && !s_negations.Contains(word))
            {
                content.Add(Stem(word));
            }

            sentenceStart = false;
        }

        return new TextFeatures([.. words], [.. content], [.. numbers], [.. dates], [.. entities], negations % 2 == 1);
    }

    // Word characters: letters and digits, and an apostrophe, period, comma or hyphen between two of them
    // ("don't", "3.5", "1,000", "gpt-4").
    private static bool IsWordChar(string text, int i)
    {
        char c = text[i];
        if (char.IsLetterOrDigit(c))
        {
            return true;
        }

        return c is '\'' or '\u2019' or '.' or ',' or '-' or '+'
            && i > 0 && i + 1 < text.Length
            && char.IsLetterOrDigit(text[i - 1])
            && (char.IsLetterOrDigit(text[i + 1]) || c == '+')
            && (c is not ('.' or ',') || (char.IsDigit(text[i - 1]) && char.IsDigit(text[i + 1])));
    }

    // A capitalised word that does not start a sentence, or an acronym or mixed-case name anywhere ("NASA", "iPhone").
    private static bool IsEntity(string word, bool sentenceStart)
    {
        if (word.Length < 2 && word != "C")
        {
            return false;
        }

        int upper = 0;
        foreach (char ch in word)
        {
            if (char.IsUpper(ch))
            {
                upper++;
            }
        }

        if (upper == 0)
        {
            return false;
        }

        bool acronymOrMixed = upper > 1 || !char.IsUpper(word[0]);
        return acronymOrMixed || (!sentenceStart && word != "I" && !word.StartsWith("I'", StringComparison.Ordinal));
    }

    // Plural and simple verb endings, so "cars" meets "car" in the lexical-overlap floor.
    private static string Stem(string word) =>
        word.Length > 4 && word.EndsWith("ies", StringComparison.Ordinal) ? string.Concat(word.AsSpan(0, word.Length - 3), "y")
        : word.Length > 3 && word.EndsWith('s') && !word.EndsWith("ss", StringComparison.Ordinal) ? word[..^1]
        : word;
}

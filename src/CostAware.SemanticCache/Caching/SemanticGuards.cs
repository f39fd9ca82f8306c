namespace CostAware;

/// <summary>
/// The built-in checks that veto a semantic-cache hit whose prompt differs from the query in a way embeddings tend to
/// miss. Each is optional; <c>docs/semantic-cache.md</c> reports what each buys in precision and costs in recall.
/// </summary>
[Flags]
public enum SemanticGuards
{
    /// <summary>No guard: similarity alone decides.</summary>
    None = 0,

    /// <summary>Veto when the two texts hold different numbers (digits or number words: "2" and "two" agree).</summary>
    Numbers = 1,

    /// <summary>Veto when the two texts name different dates: years, months, weekdays, or relative days such as "tomorrow".</summary>
    Dates = 2,

    /// <summary>Veto when one text is negated ("not", "never", "-n't", "without"…) and the other is not.</summary>
    Negations = 4,

    /// <summary>
    /// Veto when a name or acronym in one text (a capitalised word that does not start a sentence, "NASA", "iPhone")
    /// does not occur in the other.
    /// </summary>
    Entities = 8,

    /// <summary>Every guard above.</summary>
    All = Numbers | Dates | Negations | Entities,
}

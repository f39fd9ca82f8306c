using CostAware.Shared;

namespace CostAware.SemanticCache.Internal;

// One entry of the local replica: the prompt, its vector, the answer, and its place in the LRU list.
internal sealed class SemanticEntry(
    long id, string recordId, string group, string partition, string prompt, float[] vector, PromptCacheEntry answer, byte[]? answerBytes, DateTimeOffset expiresAt)
{
    private TextFeatures? _features;
    private float _wrongAt = float.NegativeInfinity;
    private float[]? _confirmed;
    private string[]? _aliases;

    public long Id => id;

    public string RecordId => recordId;

    public string Group => group;

    public string Partition => partition;

    public string Prompt => prompt;

    public float[] Vector => vector;

    public PromptCacheEntry Answer => answer;

    // The answer's stored form, kept when it was at hand (from a store or a snapshot) so that it is not written twice.
    public byte[]? AnswerBytes { get; set; } = answerBytes;

    public DateTimeOffset ExpiresAt => expiresAt;

    public LinkedListNode<SemanticEntry>? Node { get; set; }

    public TextFeatures Features => _features ??= TextFeatures.Extract(prompt);

    // The highest similarity at which this entry's answer was found wrong for another text (error-bounded mode); it is
    // never served at or below it. Only rises.
    public float WrongAt => Volatile.Read(ref _wrongAt);

    // How many other texts, at or below this similarity, this entry's answer was confirmed for by a verification (the
    // error-bounded mode's entry-earned policies; the 8 lowest similarities are kept).
    public int ConfirmedAtOrBelow(float similarity)
    {
        float[]? confirmed = Volatile.Read(ref _confirmed);
        int count = 0;
        if (confirmed is not null)
        {
            foreach (float s in confirmed)
            {
                count += s <= similarity ? 1 : 0;
            }
        }

        return count;
    }

    public float[] Confirmations => Volatile.Read(ref _confirmed) ?? [];

    // Texts a verification found this entry's answer right for (error-bounded mode): a request equal to one of them
    // after case, white space and punctuation is a near-exact hit. At most 16, the first ones.
    public string[] Aliases => Volatile.Read(ref _aliases) ?? [];

    public bool IsSameRequest(string query)
    {
        if (AnswerText.SameRequest(query, prompt))
        {
            return true;
        }

        foreach (string alias in Aliases)
        {
            if (AnswerText.SameRequest(query, alias))
            {
                return true;
            }
        }

        return false;
    }

    public void AddAlias(string text)
    {
        string[]? seen;
        string[] next;
        do
        {
            seen = Volatile.Read(ref _aliases);
            if (seen is { Length: >= 16 })
            {
                return;
            }

            next = seen is null ? [text] : [.. seen, text];
        }
        while (Interlocked.CompareExchange(ref _aliases, next, seen) != seen);
    }

    // Takes what another node or a snapshot learned about this entry.
    public void Learn(float? wrongAt, ReadOnlySpan<float> confirmations, IReadOnlyList<string> aliases)
    {
        foreach (string alias in aliases)
        {
            if (Array.IndexOf(Aliases, alias) < 0)
            {
                AddAlias(alias);
            }
        }

        if (wrongAt is { } wrong)
        {
            MarkWrongAt(wrong);
        }

        foreach (float similarity in confirmations)
        {
            if (Array.IndexOf(Confirmations, similarity) < 0)
            {
                Confirm(similarity);
            }
        }
    }

    public void Confirm(float similarity)
    {
        float[]? seen;
        float[] next;
        do
        {
            seen = Volatile.Read(ref _confirmed);
            next = seen is null ? [similarity]
                : seen.Length < 8 ? [.. seen, similarity]
                : [.. seen.Append(similarity).Order().Take(8)];
        }
        while (Interlocked.CompareExchange(ref _confirmed, next, seen) != seen);
    }

    public void MarkWrongAt(float similarity)
    {
        float seen = Volatile.Read(ref _wrongAt);
        while (similarity > seen)
        {
            float was = Interlocked.CompareExchange(ref _wrongAt, similarity, seen);
            if (was == seen)
            {
                return;
            }

            seen = was;
        }
    }
}

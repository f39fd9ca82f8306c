using CostAware.Shared;

namespace CostAware.SemanticCache.Internal;

// One entry of the local replica: the prompt, its vector, the answer, and its place in the LRU list.
internal sealed class SemanticEntry(
    long id, string recordId, string group, string partition, string prompt, float[] vector, PromptCacheEntry answer, byte[]? answerBytes, DateTimeOffset expiresAt)
{
    private TextFeatures? _features;
    private float _wrongAt = float.NegativeInfinity;

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

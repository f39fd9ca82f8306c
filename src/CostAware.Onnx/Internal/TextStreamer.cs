using CostAware.Shared;

namespace CostAware.Onnx.Internal;

// Turns a row's generated tokens into text pieces as they come: decodes incrementally over a short window of
// already-emitted tokens (so SentencePiece's leading spaces and byte-level BPE's split characters come out right),
// holds back a piece that ends in an incomplete UTF-8 sequence, and holds back the tail that could still become a
// stop sequence. When a stop sequence appears, the text before it is the answer's end. Not thread-safe: one per row.
internal sealed class TextStreamer
{
    private readonly ModelTokenizer _tokenizer;
    private readonly string[] _stops;
    private readonly int _holdBack;
    private readonly List<int> _ids = [];
    private readonly System.Text.StringBuilder _pending = new();
    private int _prefixOffset;
    private int _readOffset;
    private string? _prefix;

    public TextStreamer(ModelTokenizer tokenizer, IReadOnlyList<string>? stopSequences)
    {
        _tokenizer = tokenizer;
        _stops = stopSequences?.Where(s => s.Length > 0).ToArray() ?? [];
        _holdBack = _stops.Length == 0 ? 0 : _stops.Max(s => s.Length) - 1;
    }

    public bool Stopped { get; private set; }

    // Adds a generated token; returns the text that can be shown now (possibly empty).
    public string Add(int token)
    {
        if (Stopped)
        {
            return "";
        }

        _ids.Add(token);
        if (_tokenizer.IsSpecial(token))
        {
            return "";
        }

        string prefix = Prefix;
        string text = Decode(_prefixOffset, _ids.Count);
        if (text.Length <= prefix.Length || text[^1] == '\uFFFD' || !text.StartsWith(prefix, StringComparison.Ordinal))
        {
            return "";
        }

        _ = _pending.Append(text, prefix.Length, text.Length - prefix.Length);
        _prefixOffset = _readOffset;
        _readOffset = _ids.Count;
        _prefix = null;
        return Release(final: false);
    }

    // The text still held back, at the end of generation.
    public string Flush()
    {
        if (Stopped)
        {
            return "";
        }

        string text = Decode(_prefixOffset, _ids.Count);
        string prefix = Prefix;
        if (text.Length > prefix.Length && text.StartsWith(prefix, StringComparison.Ordinal))
        {
            _ = _pending.Append(text, prefix.Length, text.Length - prefix.Length);
        }

        _readOffset = _ids.Count;
        _prefix = null;
        return Release(final: true);
    }

    private string Release(bool final)
    {
        if (_stops.Length > 0)
        {
            string pending = _pending.ToString();
            int stop = -1;
            foreach (string s in _stops)
            {
                int at = pending.IndexOf(s, StringComparison.Ordinal);
                if (at >= 0 && (stop < 0 || at < stop))
                {
                    stop = at;
                }
            }

            if (stop >= 0)
            {
                Stopped = true;
                _ = _pending.Clear();
                return pending[..stop];
            }
        }

        int keep = final ? 0 : Math.Min(_holdBack, _pending.Length);
        int release = _pending.Length - keep;
        if (release > 0 && char.IsHighSurrogate(_pending[release - 1]))
        {
            release--;
        }

        string piece = _pending.ToString(0, release);
        _ = _pending.Remove(0, release);
        return piece;
    }

    // The text of the already-emitted window; it changes only when the offsets move.
    private string Prefix => _prefix ??= Decode(_prefixOffset, _readOffset);

    private string Decode(int from, int to) => from >= to ? "" : _tokenizer.Decode(_ids.GetRange(from, to - from));
}

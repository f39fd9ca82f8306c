using Microsoft.ML.Tokenizers;

namespace CostAware.Shared;

// A model's tokenizer as the local backends use it: a Microsoft.ML.Tokenizers model, the normalisation the model's
// files ask for that the model itself does not apply, the added (special) tokens, and the model's own post-processing
// (BERT's [CLS] … [SEP]). Immutable and thread-safe, as the wrapped tokenizers are.
internal sealed class ModelTokenizer
{
    private readonly Func<string, string>? _normalize;
    private readonly Func<string, IReadOnlyList<int>>? _encodeForModel;
    private readonly Func<string, IReadOnlyList<int>>? _encode;
    private readonly HashSet<int> _specialIds;

    public ModelTokenizer(
        Tokenizer inner,
        Func<string, string>? normalize,
        IReadOnlyDictionary<string, int> specialTokens,
        int? unknownId,
        int vocabularySize,
        Func<string, IReadOnlyList<int>>? encodeForModel = null,
        Func<string, IReadOnlyList<int>>? encode = null)
    {
        _encode = encode;
        Inner = inner;
        _normalize = normalize;
        SpecialTokens = specialTokens;
        _specialIds = [.. specialTokens.Values];
        UnknownId = unknownId;
        VocabularySize = vocabularySize;
        _encodeForModel = encodeForModel;
    }

    public Tokenizer Inner { get; }

    public IReadOnlyDictionary<string, int> SpecialTokens { get; }

    public int? UnknownId { get; }

    public int VocabularySize { get; }

    public string Normalize(string text) => _normalize is null ? text : _normalize(text);

    // The text's tokens, special-token markup in the text included (chat templates rely on it), no tokens added.
    public IReadOnlyList<int> EncodeToIds(string text) => _encode is null ? Inner.EncodeToIds(Normalize(text)) : _encode(Normalize(text));

    // The text's tokens with what the model's post-processor adds around them (BERT: [CLS] … [SEP]).
    public IReadOnlyList<int> EncodeForModel(string text) => _encodeForModel is null ? EncodeToIds(text) : _encodeForModel(Normalize(text));

    public bool IsSpecial(int id) => _specialIds.Contains(id);

    // The text of the tokens, special tokens left out (what a reader of the answer should see).
    public string Decode(IEnumerable<int> ids) => Inner.Decode(_specialIds.Count == 0 ? ids : ids.Where(id => !_specialIds.Contains(id))) ?? "";

    public int? IdOf(string token) =>
        SpecialTokens.TryGetValue(token, out int special) ? special
        : EncodeToIds(token) is [int single] ? single
        : null;
}

using System.ComponentModel.DataAnnotations;

namespace CostAware;

/// <summary>Options of <see cref="OnnxEmbeddingGenerator"/>: the model folder and device, pooling, and batching.</summary>
/// <remarks>
/// Bound from the <c>CostAware:Onnx:Embeddings</c> configuration section by <c>AddCostAwareOnnxEmbeddingGenerator</c>. This type
/// is a mutable bag for configuration; it is not thread-safe, and the generator copies what it needs when it loads.
/// </remarks>
public sealed class OnnxEmbeddingGeneratorOptions : OnnxModelOptions
{
    /// <summary>Gets or sets how token vectors become one embedding.</summary>
    /// <value>The default value is <see cref="OnnxPooling.Auto"/>.</value>
    public OnnxPooling Pooling { get; set; } = OnnxPooling.Auto;

    /// <summary>Gets or sets a value indicating whether embeddings are scaled to unit length (what cosine search expects).</summary>
    /// <value>The default value is <see langword="true"/>.</value>
    public bool Normalize { get; set; } = true;

    /// <summary>Gets or sets the most texts in one model run; texts of concurrent requests are gathered into one run up to this.</summary>
    /// <value>The default value is 32.</value>
    [Range(1, 4096)]
    public int MaxBatchSize { get; set; } = 32;

    /// <summary>Gets or sets the most tokens of a text that are embedded; longer texts are cut (their end marker kept).</summary>
    /// <value>The default value is <see langword="null"/>: the model's <c>max_position_embeddings</c>, or 512.</value>
    [Range(2, 65_536)]
    public int? MaxSequenceLength { get; set; }

    /// <summary>
    /// Gets or sets a value indicating whether text is lower-cased (and accents stripped) before a bare <c>vocab.txt</c>
    /// WordPiece vocabulary tokenizes it, as uncased BERT models (MiniLM, bge-small-en) expect.
    /// </summary>
    /// <value>
    /// The default value is <see langword="null"/>: the folder's <c>tokenizer_config.json</c> says (<c>do_lower_case</c>),
    /// and without one the vocabulary is treated as <b>uncased</b>, the common case for sentence-transformer exports. Set
    /// <see langword="false"/> for a cased model. A <c>tokenizer.json</c> carries its own normaliser and ignores this.
    /// </value>
    public bool? LowerCase { get; set; }
}

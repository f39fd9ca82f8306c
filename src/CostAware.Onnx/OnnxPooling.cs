namespace CostAware;

/// <summary>How <see cref="OnnxEmbeddingGenerator"/> turns a text's token vectors into one embedding.</summary>
public enum OnnxPooling
{
    /// <summary>The model's own <c>sentence_embedding</c> output when it has one; otherwise as its sentence-transformers <c>1_Pooling/config.json</c> says; otherwise <see cref="Mean"/>.</summary>
    Auto,

    /// <summary>The mean of the token vectors over the attention mask (padding excluded).</summary>
    Mean,

    /// <summary>The first token's vector (<c>[CLS]</c>).</summary>
    Cls,

    /// <summary>The model's pooled output: <c>sentence_embedding</c>, or <c>pooler_output</c>.</summary>
    ModelOutput,
}

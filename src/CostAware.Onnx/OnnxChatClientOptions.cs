using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.AI;

namespace CostAware;

/// <summary>Options of <see cref="OnnxChatClient"/>: the model folder and device, the prompt format, and how requests share the model.</summary>
/// <remarks>
/// Bound from the <c>CostAware:Onnx:Chat</c> configuration section by <c>AddCostAwareOnnxChatClient</c>. This type is a
/// mutable bag for configuration; it is not thread-safe, and the client copies what it needs when it loads.
/// </remarks>
public sealed class OnnxChatClientOptions : OnnxModelOptions
{
    /// <summary>Gets or sets the chat template.</summary>
    /// <value>The default value is <see cref="OnnxChatTemplate.Auto"/>.</value>
    public OnnxChatTemplate ChatTemplate { get; set; } = OnnxChatTemplate.Auto;

    /// <summary>Gets or sets a function that renders the conversation into the prompt text, replacing <see cref="ChatTemplate"/>.</summary>
    /// <value>The default value is <see langword="null"/>: the chat template is used.</value>
    public Func<IReadOnlyList<ChatMessage>, string>? PromptFormatter { get; set; }

    /// <summary>Gets or sets how the KV cache is kept.</summary>
    /// <value>The default value is <see cref="OnnxKvCacheMode.Auto"/>.</value>
    public OnnxKvCacheMode KvCache { get; set; } = OnnxKvCacheMode.Auto;

    /// <summary>Gets or sets the most tokens (prompt and answer) one request may hold; also the size of a shared KV buffer.</summary>
    /// <value>The default value is <see langword="null"/>: the model's context length, at most 4,096.</value>
    [Range(2, 1_048_576)]
    public int? MaxLength { get; set; }

    /// <summary>Gets or sets the most answer tokens when a request does not set <see cref="ChatOptions.MaxOutputTokens"/>.</summary>
    /// <value>The default value is 1,024.</value>
    [Range(1, 1_048_576)]
    public int DefaultMaxOutputTokens { get; set; } = 1024;

    /// <summary>Gets or sets how many batches run at once (each a model run on its own thread).</summary>
    /// <value>The default value is 1: on a CPU one run already uses every core.</value>
    [Range(1, 256)]
    public int MaxConcurrency { get; set; } = 1;

    /// <summary>
    /// Gets or sets the most requests generated together in one batch: requests waiting while a batch runs start
    /// together in the next one. Applies to <see cref="OnnxKvCacheMode.Grow"/> models; shared-buffer models run one request at a time.
    /// </summary>
    /// <value>The default value is 8.</value>
    [Range(1, 256)]
    public int MaxBatchSize { get; set; } = 8;

    /// <summary>
    /// Gets or sets a value indicating whether requests join a running batch between steps (continuous batching): in
    /// grow mode, a request that arrives while a batch generates is prefilled and joins it as soon as a row is free
    /// (up to <see cref="MaxBatchSize"/>), and a finished request leaves it at once. <see langword="false"/> keeps
    /// static batching: arrivals wait until the whole batch has finished. A shared KV buffer runs one request at a
    /// time either way.
    /// </summary>
    /// <value>The default value is <see langword="true"/>.</value>
    public bool ContinuousBatching { get; set; } = true;

    /// <summary>Gets or sets the most prompt tokens fed to the model in one run; longer prompts are fed in chunks through the cache.</summary>
    /// <value>The default value is 512.</value>
    [Range(1, 65_536)]
    public int PrefillChunkSize { get; set; } = 512;
}

using System.ComponentModel.DataAnnotations;

namespace CostAware;

/// <summary>Where a local ONNX model is and where it runs; shared by <see cref="OnnxChatClientOptions"/> and <see cref="OnnxEmbeddingGeneratorOptions"/>.</summary>
/// <remarks>This type is a mutable bag for configuration; it is not thread-safe, and a client copies what it needs when it loads.</remarks>
public abstract class OnnxModelOptions
{
    /// <summary>Gets or sets the model folder: the <c>.onnx</c> file, its configuration and its tokenizer files.</summary>
    /// <value>The default value is empty; required.</value>
    [Required]
    public string ModelPath { get; set; } = "";

    /// <summary>Gets or sets the model id reported in responses and metadata, and priced by the metering stage.</summary>
    /// <value>The default value is <see langword="null"/>: the model folder's name.</value>
    public string? ModelId { get; set; }

    /// <summary>Gets or sets where the model runs.</summary>
    /// <value>The default value is <see cref="OnnxDevice.Auto"/>.</value>
    public OnnxDevice Device { get; set; } = OnnxDevice.Auto;

    /// <summary>Gets or sets the CUDA device index used on the GPU.</summary>
    /// <value>The default value is 0.</value>
    [Range(0, 255)]
    public int DeviceId { get; set; }

    /// <summary>Gets or sets a value indicating whether a model asked to run on <see cref="OnnxDevice.Cuda"/> runs on the CPU, with a warning, when CUDA cannot be used.</summary>
    /// <value>The default value is <see langword="false"/>: it fails to load instead, naming the missing piece.</value>
    public bool FallBackToCpu { get; set; }

    /// <summary>Gets or sets how many threads one model run uses on the CPU.</summary>
    /// <value>The default value is 0: ONNX Runtime's default (one per physical core).</value>
    [Range(0, 1024)]
    public int IntraOpThreads { get; set; }
}

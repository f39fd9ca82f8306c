namespace CostAware;

/// <summary>How <see cref="OnnxChatClient"/> keeps a request's attention keys and values between steps.</summary>
public enum OnnxKvCacheMode
{
    /// <summary>As the model's <c>genai_config.json</c> says (<c>past_present_share_buffer</c>), otherwise <see cref="Grow"/>.</summary>
    Auto,

    /// <summary>Each step's <c>present.*</c> outputs are fed back as the next step's <c>past.*</c> inputs (Optimum exports, attention that concatenates onto the cache). Concurrent requests can be batched.</summary>
    Grow,

    /// <summary>
    /// One buffer per layer, sized for the whole context, is bound as both <c>past.*</c> and <c>present.*</c>
    /// through IO binding (GroupQueryAttention models from ONNX Runtime GenAI's model builder). One request per run.
    /// </summary>
    SharedBuffer,
}

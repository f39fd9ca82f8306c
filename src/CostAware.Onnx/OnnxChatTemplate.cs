namespace CostAware;

/// <summary>How <see cref="OnnxChatClient"/> renders a conversation into the model's prompt.</summary>
public enum OnnxChatTemplate
{
    /// <summary>Chosen by the special tokens the model's tokenizer knows (<c>&lt;|im_start|&gt;</c>, <c>&lt;|start_header_id|&gt;</c>, …).</summary>
    Auto,

    /// <summary>ChatML, as Qwen and many fine-tunes use: <c>&lt;|im_start|&gt;role\n…&lt;|im_end|&gt;</c>.</summary>
    ChatML,

    /// <summary>Llama 3: <c>&lt;|start_header_id|&gt;role&lt;|end_header_id|&gt;\n\n…&lt;|eot_id|&gt;</c>.</summary>
    Llama3,

    /// <summary>Phi-3: <c>&lt;|user|&gt;\n…&lt;|end|&gt;\n&lt;|assistant|&gt;\n</c>.</summary>
    Phi3,

    /// <summary>Mistral instruct: <c>&lt;s&gt;[INST] … [/INST]</c>; a system message opens the first user turn.</summary>
    Mistral,

    /// <summary>Gemma: <c>&lt;start_of_turn&gt;user\n…&lt;end_of_turn&gt;</c>; a system message opens the first user turn.</summary>
    Gemma,
}

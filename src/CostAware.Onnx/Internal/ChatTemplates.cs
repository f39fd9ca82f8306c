using System.Text;
using CostAware.Shared;
using Microsoft.Extensions.AI;

namespace CostAware.Onnx.Internal;

// The built-in chat templates: each renders the conversation as the family's Hugging Face template does, ending with
// the generation prompt for the assistant's turn. Auto picks one by the special tokens the tokenizer knows.
internal static class ChatTemplates
{
    public static OnnxChatTemplate Resolve(OnnxChatTemplate requested, ModelTokenizer tokenizer, string? modelType)
    {
        if (requested != OnnxChatTemplate.Auto)
        {
            return requested;
        }

        IReadOnlyDictionary<string, int> special = tokenizer.SpecialTokens;
        return special.ContainsKey("<|im_start|>") ? OnnxChatTemplate.ChatML
            : special.ContainsKey("<|start_header_id|>") ? OnnxChatTemplate.Llama3
            : special.ContainsKey("<|assistant|>") && special.ContainsKey("<|end|>") ? OnnxChatTemplate.Phi3
            : special.ContainsKey("<start_of_turn>") ? OnnxChatTemplate.Gemma
            : special.ContainsKey("[INST]") || modelType is "mistral" or "mixtral" ? OnnxChatTemplate.Mistral
            : throw new OnnxBackendException(
                OnnxBackendFailure.UnsupportedModel,
                "No chat template could be chosen for this model: its tokenizer has none of the ChatML, Llama 3, Phi-3, Gemma or Mistral markers. Set OnnxChatClientOptions.ChatTemplate or PromptFormatter.");
    }

    // The markers that end an assistant turn; generation stops on them as on end-of-sequence.
    public static IEnumerable<string> EndOfTurnTokens(OnnxChatTemplate template) => template switch
    {
        OnnxChatTemplate.ChatML => ["<|im_end|>", "<|endoftext|>"],
        OnnxChatTemplate.Llama3 => ["<|eot_id|>", "<|end_of_text|>", "<|eom_id|>"],
        OnnxChatTemplate.Phi3 => ["<|end|>", "<|endoftext|>"],
        OnnxChatTemplate.Gemma => ["<end_of_turn>", "<eos>"],
        OnnxChatTemplate.Mistral => ["</s>"],
        _ => [],
    };

    public static string Format(OnnxChatTemplate template, IEnumerable<ChatMessage> messages)
    {
        List<(string Role, string Text)> turns = [.. messages.Select(m => (Role(m.Role), Text(m)))];
        StringBuilder prompt = new();
        switch (template)
        {
            case OnnxChatTemplate.ChatML:
                foreach ((string role, string text) in turns)
                {
                    _ = prompt.Append("<|im_start|>").Append(role).Append('\n').Append(text).Append("<|im_end|>\n");
                }

                _ = prompt.Append("<|im_start|>assistant\n");
                break;
            case OnnxChatTemplate.Llama3:
                _ = prompt.Append("<|begin_of_text|>");
                foreach ((string role, string text) in turns)
                {
                    _ = prompt.Append("<|start_header_id|>").Append(role).Append("<|end_header_id|>\n\n").Append(text.Trim()).Append("<|eot_id|>");
                }

                _ = prompt.Append("<|start_header_id|>assistant<|end_header_id|>\n\n");
                break;
            case OnnxChatTemplate.Phi3:
                foreach ((string role, string text) in turns)
                {
                    _ = prompt.Append("<|").Append(role).Append("|>\n").Append(text).Append("<|end|>\n");
                }

                _ = prompt.Append("<|assistant|>\n");
                break;
            case OnnxChatTemplate.Gemma:
                _ = prompt.Append("<bos>");
                foreach ((string role, string text) in MergeSystem(turns))
                {
                    _ = prompt.Append("<start_of_turn>").Append(role == "assistant" ? "model" : role).Append('\n').Append(text.Trim()).Append("<end_of_turn>\n");
                }

                _ = prompt.Append("<start_of_turn>model\n");
                break;
            case OnnxChatTemplate.Mistral:
                _ = prompt.Append("<s>");
                foreach ((string role, string text) in MergeSystem(turns))
                {
                    _ = role == "assistant"
                        ? prompt.Append(' ').Append(text.Trim()).Append("</s>")
                        : prompt.Append("[INST] ").Append(text.Trim()).Append(" [/INST]");
                }

                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(template), template, "Not a chat template.");
        }

        return prompt.ToString();
    }

    // Gemma and Mistral have no system turn: the system text opens the first user turn.
    private static IEnumerable<(string Role, string Text)> MergeSystem(List<(string Role, string Text)> turns)
    {
        string system = string.Join("\n\n", turns.Where(t => t.Role == "system").Select(t => t.Text.Trim()));
        bool pending = system.Length > 0;
        foreach ((string role, string text) in turns.Where(t => t.Role != "system"))
        {
            if (pending && role == "user")
            {
                pending = false;
                yield return (role, system + "\n\n" + text);
            }
            else
            {
                yield return (role, text);
            }
        }

        if (pending)
        {
            yield return ("user", system);
        }
    }

    private static string Role(ChatRole role) =>
        role == ChatRole.System ? "system" : role == ChatRole.Assistant ? "assistant" : role == ChatRole.Tool ? "tool" : "user";

    private static string Text(ChatMessage message)
    {
        foreach (AIContent content in message.Contents)
        {
            if (content is not (TextContent or TextReasoningContent or FunctionCallContent or FunctionResultContent or UsageContent))
            {
                throw new NotSupportedException($"The local chat model takes text only; the message holds {content.GetType().Name}.");
            }
        }

        return message.Text;
    }
}

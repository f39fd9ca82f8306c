using CostAware.Onnx.Internal;
using CostAware.Shared;
using Microsoft.Extensions.AI;

namespace CostAware.Onnx.Tests;

public sealed class ChatTemplateTests
{
    private static readonly ChatMessage[] Conversation =
    [
        new(ChatRole.System, "Be brief."),
        new(ChatRole.User, "Hi"),
        new(ChatRole.Assistant, "Hello."),
        new(ChatRole.User, "2+2?"),
    ];

    [Theory]
    [InlineData(OnnxChatTemplate.ChatML, "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\nHello.<|im_end|>\n<|im_start|>user\n2+2?<|im_end|>\n<|im_start|>assistant\n")]
    [InlineData(OnnxChatTemplate.Llama3, "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nBe brief.<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\nHello.<|eot_id|><|start_header_id|>user<|end_header_id|>\n\n2+2?<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n")]
    [InlineData(OnnxChatTemplate.Phi3, "<|system|>\nBe brief.<|end|>\n<|user|>\nHi<|end|>\n<|assistant|>\nHello.<|end|>\n<|user|>\n2+2?<|end|>\n<|assistant|>\n")]
    [InlineData(OnnxChatTemplate.Mistral, "<s>[INST] Be brief.\n\nHi [/INST] Hello.</s>[INST] 2+2? [/INST]")]
    [InlineData(OnnxChatTemplate.Gemma, "<bos><start_of_turn>user\nBe brief.\n\nHi<end_of_turn>\n<start_of_turn>model\nHello.<end_of_turn>\n<start_of_turn>user\n2+2?<end_of_turn>\n<start_of_turn>model\n")]
    public void Renders_AsTheFamilysTemplate(OnnxChatTemplate template, string expected)
    {
        Assert.Equal(expected, ChatTemplates.Format(template, Conversation));
    }

    [Fact]
    public void NonTextContent_IsRefused()
    {
        ChatMessage image = new(ChatRole.User, [new DataContent(new byte[] { 1, 2, 3 }, "image/png")]);

        _ = Assert.Throws<NotSupportedException>(() => ChatTemplates.Format(OnnxChatTemplate.ChatML, [image]));
    }
}

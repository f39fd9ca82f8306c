using CostAware.Onnx.Tests.TestModels;
using Microsoft.Extensions.AI;

namespace CostAware.Onnx.Tests;

// The Llama-style writer behind the engine comparison (benchmarks, issue 23), at a test's size: the model builder's
// graph (GroupQueryAttention with rotary embedding, RMS norm, SiLU MLP; fp32 MatMul or int4 MatMulNBits) loads, runs
// in both cache modes with the same greedy answer, and generates exactly the tokens asked for (no early end of turn).
public sealed class LlamaModelTests
{
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task TheModelBuildersGraph_GeneratesTheTokensAskedFor_TheSameInBothCacheModes(bool int4)
    {
        string folder = LlamaModels.Write(LlamaShape.Small, int4);
        try
        {
            string? first = null;
            foreach (OnnxKvCacheMode mode in (OnnxKvCacheMode[])[OnnxKvCacheMode.SharedBuffer, OnnxKvCacheMode.Grow])
            {
                using OnnxChatClient client = new(new OnnxChatClientOptions { ModelPath = folder, KvCache = mode, PromptFormatter = ModelFolders.Raw, Device = OnnxDevice.Cpu });

                ChatResponse response = await client.GetResponseAsync("The quick brown fox jumps over the lazy dog.", new ChatOptions { MaxOutputTokens = 24 });

                Assert.Equal(44, response.Usage?.InputTokenCount); // one token a byte: no merges
                Assert.Equal(24, response.Usage?.OutputTokenCount);
                Assert.Equal(ChatFinishReason.Length, response.FinishReason);
                first ??= response.Text;
                Assert.Equal(first, response.Text);
            }

            Assert.True(File.Exists(Path.Combine(folder, "tokenizer_config.json")));
            Assert.True(new FileInfo(Path.Combine(folder, "model.onnx.data")).Length > new FileInfo(Path.Combine(folder, "model.onnx")).Length);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [Fact]
    public void TheRealisticShape_IsAboutHalfABillionParameters() =>
        Assert.InRange(LlamaShape.Realistic.Parameters, 400_000_000L, 600_000_000L);
}

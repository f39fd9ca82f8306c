using CostAware.Onnx.Internal;
using CostAware.Shared;
using CostAware.Onnx.Tests.TestModels;
using Microsoft.Extensions.AI;

namespace CostAware.Onnx.Tests;

public sealed class GreedyDecodingTests
{
    public static TheoryData<string, OnnxKvCacheMode> Folders => new()
    {
        { "concat", OnnxKvCacheMode.Auto },
        { "gqa-shared", OnnxKvCacheMode.Auto },
        { "gqa-shared", OnnxKvCacheMode.Grow },
        { "gqa-grow", OnnxKvCacheMode.SharedBuffer },
    };

    internal static string Folder(string name) => name switch
    {
        "concat" => ModelFolders.Concat,
        "gqa-shared" => ModelFolders.GqaShared,
        _ => ModelFolders.GqaGrow,
    };

    internal static OnnxChatClient Client(string folder, OnnxKvCacheMode mode = OnnxKvCacheMode.Auto, Action<OnnxChatClientOptions>? configure = null)
    {
        OnnxChatClientOptions options = new() { ModelPath = folder, ModelId = "tiny", KvCache = mode, PromptFormatter = ModelFolders.Raw, Device = OnnxDevice.Cpu };
        configure?.Invoke(options);
        return new OnnxChatClient(options);
    }

    [Theory]
    [MemberData(nameof(Folders))]
    public async Task Greedy_FollowsTheSuccessorTable_UntilEndOfTurn(string folder, OnnxKvCacheMode mode)
    {
        using OnnxChatClient client = Client(Folder(folder), mode);

        ChatResponse response = await client.GetResponseAsync("Count: a");

        Assert.Equal("bcdef", response.Text);
        Assert.Equal(ChatFinishReason.Stop, response.FinishReason);
        Assert.Equal("tiny", response.ModelId);
        Assert.Equal(client.CountPromptTokens([new ChatMessage(ChatRole.User, "Count: a")]), response.Usage?.InputTokenCount);
        Assert.Equal(6, response.Usage?.OutputTokenCount); // b c d e f <|im_end|>
    }

    [Theory]
    [MemberData(nameof(Folders))]
    public async Task MaxOutputTokens_StopsWithLength_AtExactlyThatMany(string folder, OnnxKvCacheMode mode)
    {
        using OnnxChatClient client = Client(Folder(folder), mode);

        ChatResponse response = await client.GetResponseAsync("go: g", new ChatOptions { MaxOutputTokens = 4 });

        Assert.Equal("hijk", response.Text);
        Assert.Equal(ChatFinishReason.Length, response.FinishReason);
        Assert.Equal(4, response.Usage?.OutputTokenCount);
    }

    [Fact]
    public async Task StopSequence_EndsTheAnswerBeforeIt()
    {
        using OnnxChatClient client = Client(ModelFolders.Concat);

        ChatResponse response = await client.GetResponseAsync("go: g", new ChatOptions { StopSequences = ["lm"], MaxOutputTokens = 20 });

        Assert.Equal("hijk", response.Text);
        Assert.Equal(ChatFinishReason.Stop, response.FinishReason);
    }

    [Fact]
    public async Task Streaming_YieldsTokenByToken_ThenUsageAndFinishReason()
    {
        using OnnxChatClient client = Client(ModelFolders.Concat);

        List<ChatResponseUpdate> updates = [];
        await foreach (ChatResponseUpdate update in client.GetStreamingResponseAsync("Count: a"))
        {
            updates.Add(update);
        }

        Assert.Equal(["b", "c", "d", "e", "f"], updates.Where(u => u.Text.Length > 0).Select(u => u.Text));
        ChatResponseUpdate last = updates[^1];
        Assert.Equal(ChatFinishReason.Stop, last.FinishReason);
        UsageContent usage = Assert.IsType<UsageContent>(Assert.Single(last.Contents));
        Assert.Equal(6, usage.Details.OutputTokenCount);
        Assert.All(updates, u => Assert.Equal(updates[0].ResponseId, u.ResponseId));
    }

    [Fact]
    public async Task ChatTemplate_Auto_PicksChatMLFromTheTokenizer_AndStopsOnImEnd()
    {
        using OnnxChatClient client = new(new OnnxChatClientOptions { ModelPath = ModelFolders.Concat, Device = OnnxDevice.Cpu });

        ChatResponse response = await client.GetResponseAsync([new(ChatRole.System, "sys"), new(ChatRole.User, "hi")], new ChatOptions { MaxOutputTokens = 3 });

        // The ChatML prompt ends with "assistant\n": the answer starts at the byte after '\n'.
        Assert.Equal(client.CountPromptTokens([new(ChatRole.System, "sys"), new(ChatRole.User, "hi")]), response.Usage?.InputTokenCount);
        Assert.Equal("\v\f\r", response.Text);
    }

    [Fact]
    public void Metadata_NamesProviderDeviceAndModel()
    {
        using OnnxChatClient client = Client(ModelFolders.Concat);

        ChatClientMetadata metadata = Assert.IsType<ChatClientMetadata>(client.GetService(typeof(ChatClientMetadata)));
        Assert.Equal("onnxruntime", metadata.ProviderName);
        Assert.Equal("onnxruntime:cpu", metadata.ProviderUri?.ToString());
        Assert.Equal("tiny", metadata.DefaultModelId);
        Assert.Equal("cpu", client.Device);
        Assert.Same(client, client.GetService<OnnxChatClient>());
        Assert.NotNull(client.GetService<Microsoft.ML.OnnxRuntime.InferenceSession>());
    }
}

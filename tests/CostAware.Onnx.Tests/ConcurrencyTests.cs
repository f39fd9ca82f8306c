using Microsoft.Extensions.AI;

namespace CostAware.Onnx.Tests;

public sealed class ConcurrencyTests
{
    [Theory]
    [InlineData(1, 8)]
    [InlineData(2, 3)]
    [InlineData(1, 1)]
    public async Task ConcurrentRequests_EachGetsItsOwnAnswer(int concurrency, int batch)
    {
        using OnnxChatClient client = GreedyDecodingTests.Client(ModelFolders.Concat, configure: o =>
        {
            o.MaxConcurrency = concurrency;
            o.MaxBatchSize = batch;
        });
        string[] starts = ["a", "g", "m", "p", "s", "A", "K", "0"];

        ChatResponse[] responses = await Task.WhenAll(Enumerable.Range(0, 32).Select(i =>
            client.GetResponseAsync(new string('.', i % 5) + " " + starts[i % starts.Length], new ChatOptions { MaxOutputTokens = 3 + (i % 4) })));

        for (int i = 0; i < responses.Length; i++)
        {
            char start = starts[i % starts.Length][0];
            string expected = start == 'a' ? "bcdef"[..Math.Min(5, 3 + (i % 4))] : new string([.. Enumerable.Range(1, 3 + (i % 4)).Select(k => (char)(start + k))]);
            Assert.Equal(expected, responses[i].Text);
        }

        Assert.Equal(responses.Sum(r => r.Usage!.OutputTokenCount), client.Throughput.OutputTokens);
    }

    [Fact]
    public async Task CancelledMidStream_ThrowsOperationCanceled_AndOthersFinish()
    {
        using OnnxChatClient client = GreedyDecodingTests.Client(ModelFolders.Concat, configure: o => o.MaxBatchSize = 4);
        using CancellationTokenSource cts = new();
        Task<ChatResponse> other = client.GetResponseAsync("go: g", new ChatOptions { MaxOutputTokens = 40 });

        int seen = 0;
        Task consume = Task.Run(async () =>
        {
            await foreach (ChatResponseUpdate update in client.GetStreamingResponseAsync("go: A", new ChatOptions { MaxOutputTokens = 200 }, cts.Token))
            {
                if (++seen == 2)
                {
                    await cts.CancelAsync();
                }
            }
        });

        _ = await Assert.ThrowsAnyAsync<OperationCanceledException>(() => consume);
        Assert.Equal(40, (await other).Usage?.OutputTokenCount);
    }

    [Fact]
    public async Task CancelledBeforeStart_Throws()
    {
        using OnnxChatClient client = GreedyDecodingTests.Client(ModelFolders.Concat);
        using CancellationTokenSource cts = new();
        await cts.CancelAsync();

        _ = await Assert.ThrowsAnyAsync<OperationCanceledException>(() => client.GetResponseAsync("a", cancellationToken: cts.Token));
    }

    [Fact]
    public async Task Disposed_RefusesNewRequests()
    {
        OnnxChatClient client = GreedyDecodingTests.Client(ModelFolders.Concat);
        client.Dispose();

        _ = await Assert.ThrowsAsync<ObjectDisposedException>(() => client.GetResponseAsync("a"));
    }

    [Fact]
    public async Task PromptLongerThanMaxLength_IsRefusedClearly()
    {
        using OnnxChatClient client = GreedyDecodingTests.Client(ModelFolders.Concat, configure: o => o.MaxLength = 8);

        ArgumentException error = await Assert.ThrowsAsync<ArgumentException>(() => client.GetResponseAsync("a much longer prompt than eight tokens"));
        Assert.Contains("MaxLength", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AnswerStopsAtMaxLength_WithLength()
    {
        using OnnxChatClient client = GreedyDecodingTests.Client(ModelFolders.GqaShared, configure: o => o.MaxLength = 6);

        ChatResponse response = await client.GetResponseAsync("go: g", new ChatOptions { MaxOutputTokens = 100 });

        Assert.Equal(ChatFinishReason.Length, response.FinishReason);
        Assert.Equal(6, response.Usage!.InputTokenCount + response.Usage.OutputTokenCount);
    }
}

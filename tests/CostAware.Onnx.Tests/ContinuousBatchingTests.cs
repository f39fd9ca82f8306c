using System.Numerics.Tensors;
using CostAware.Onnx.Internal;
using CostAware.Onnx.Tests.TestModels;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Logging.Abstractions;

namespace CostAware.Onnx.Tests;

// Continuous batching (grow mode): a batch regrouped between steps — finished rows dropped, newly prefilled rows
// joined, every row re-aligned on the longest history — gives each row exactly the logits it has alone; on the tiny
// concat model (Optimum layout) and on the Llama-style model-builder graph (GroupQueryAttention with rotary
// embedding). And through the client: a short request sent while a long one generates finishes long before it.
public sealed class ContinuousBatchingTests : IDisposable
{
    // Rotary embedding and RMS norm in the Llama-style graph sum in more orders than the tiny models do.
    private const float Tolerance = 1e-4f;

    private readonly string _llama = LlamaModels.Write(LlamaShape.Small, int4: false);

    public void Dispose() => Directory.Delete(_llama, recursive: true);

    public static TheoryData<string> Models => new() { "concat", "llama" };

    private string Folder(string name) => name == "concat" ? ModelFolders.Concat : _llama;

    private static DecoderModel Load(string folder) =>
        DecoderModel.Load(DecoderConfig.Load(folder), new OnnxChatClientOptions { ModelPath = folder, Device = OnnxDevice.Cpu }, NullLogger.Instance);

    // Greedy logits of a prompt alone: after the prompt and after each of `steps` steps.
    private static List<float[]> Alone(DecoderModel model, int[] prompt, int steps)
    {
        using DecoderRunner runner = new(model, [prompt.Length], shared: false, 0);
        runner.Prefill([prompt], 0, 512);
        List<float[]> all = [runner.Logits.ToArray()];
        for (int i = 0; i < steps; i++)
        {
            runner.Step([TensorPrimitives.IndexOfMax(runner.Logits)]);
            all.Add(runner.Logits.ToArray());
        }

        return all;
    }

    [Theory]
    [MemberData(nameof(Models))]
    public void LeftPaddedBatch_EachRowEqualsItselfAlone(string name)
    {
        using DecoderModel model = Load(Folder(name));
        int[][] prompts = [[104, 101, 108], [97], [120, 121, 122, 65, 66]];
        using DecoderRunner batch = DecoderRunner.Start(model, prompts, false, 0, 0, 512);
        int vocab = batch.VocabularySize;
        List<float[]>[] alone = [.. prompts.Select(p => Alone(model, p, 2))];
        for (int step = 0; step <= 2; step++)
        {
            for (int r = 0; r < prompts.Length; r++)
            {
                KvCacheTests.AssertClose(alone[r][step], batch.Logits.Slice(r * vocab, vocab).ToArray(), Tolerance);
            }

            batch.Step([.. Enumerable.Range(0, prompts.Length).Select(r => TensorPrimitives.IndexOfMax(batch.Logits.Slice(r * vocab, vocab)))]);
        }
    }

    // Rows A (long history) and B (finishes) run together; after 3 steps B leaves and C (a longer prompt than A's
    // history, so A is re-padded) joins; then D (short) joins too. Every row's logits equal its own run alone.
    [Theory]
    [MemberData(nameof(Models))]
    public void RegroupedBatch_DropsAndJoinsRows_AndEveryRowEqualsItselfAlone(string name)
    {
        using DecoderModel model = Load(Folder(name));
        int[] a = [104, 101, 108, 108, 111];
        int[] b = [97, 98];
        int[] c = [.. Enumerable.Range(60, 12)];
        int[] d = [120];
        List<float[]> aloneA = Alone(model, a, 8);
        List<float[]> aloneC = Alone(model, c, 5);
        List<float[]> aloneD = Alone(model, d, 2);

        DecoderRunner running = DecoderRunner.Start(model, [a, b], false, 0, 0, 512);
        try
        {
            int vocab = running.VocabularySize;
            int Next(int row) => TensorPrimitives.IndexOfMax(running.Logits.Slice(row * vocab, vocab));
            for (int i = 0; i < 3; i++)
            {
                running.Step([Next(0), Next(1)]);
            }

            KvCacheTests.AssertClose(aloneA[3], running.Logits[..vocab].ToArray(), Tolerance);
            running = Join(model, running, [0], c);
            KvCacheTests.AssertClose(aloneA[3], running.Logits[..vocab].ToArray(), Tolerance);
            KvCacheTests.AssertClose(aloneC[0], running.Logits.Slice(vocab, vocab).ToArray(), Tolerance);
            for (int i = 1; i <= 3; i++)
            {
                running.Step([Next(0), Next(1)]);
                KvCacheTests.AssertClose(aloneA[3 + i], running.Logits[..vocab].ToArray(), Tolerance);
                KvCacheTests.AssertClose(aloneC[i], running.Logits.Slice(vocab, vocab).ToArray(), Tolerance);
            }

            running = Join(model, running, [0, 1], d);
            for (int i = 1; i <= 2; i++)
            {
                running.Step([Next(0), Next(1), Next(2)]);
                KvCacheTests.AssertClose(aloneA[6 + i], running.Logits[..vocab].ToArray(), Tolerance);
                KvCacheTests.AssertClose(aloneC[3 + i], running.Logits.Slice(vocab, vocab).ToArray(), Tolerance);
                KvCacheTests.AssertClose(aloneD[i], running.Logits.Slice(2 * vocab, vocab).ToArray(), Tolerance);
            }
        }
        finally
        {
            running.Dispose();
        }
    }

    // Through the client on the model-builder graph: requests of different lengths sent at once start one at a time
    // and join the running batch; each answer equals the one it gets alone, with and without continuous batching.
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task ConcurrentRequestsOfDifferentLengths_GetTheirOwnAnswers(bool continuous)
    {
        (string Prompt, int Tokens)[] requests = [("a", 30), ("A longer prompt of several words.", 12), ("Mid length", 25), ("x y z", 5)];
        List<string> alone = [];
        using (OnnxChatClient single = Client(_llama, continuous))
        {
            foreach ((string prompt, int tokens) in requests)
            {
                alone.Add((await single.GetResponseAsync(prompt, new ChatOptions { MaxOutputTokens = tokens })).Text);
            }
        }

        using OnnxChatClient client = Client(_llama, continuous);
        ChatResponse[] together = await Task.WhenAll(requests.Select(r => client.GetResponseAsync(r.Prompt, new ChatOptions { MaxOutputTokens = r.Tokens })));

        Assert.Equal(alone, together.Select(static r => r.Text));
        Assert.Equal(requests.Select(static r => (long?)r.Tokens), together.Select(static r => r.Usage?.OutputTokenCount));
    }

    // A request that joined a running batch and is then cancelled leaves it: its caller gets OperationCanceledException,
    // the long request goes on to the answer it gets alone, and a request sent afterwards is served.
    [Fact]
    public async Task AJoinedRequest_CancelledMidStream_LeavesTheBatch_AndTheOthersFinish()
    {
        string folder = LlamaModels.Write(new LlamaShape(256, 4, 4, 2, 512, 1024, 2048), int4: false);
        try
        {
            ChatOptions longOptions = new() { MaxOutputTokens = 1500 };
            string longAlone;
            using (OnnxChatClient alone = Client(folder, continuous: true))
            {
                longAlone = (await alone.GetResponseAsync("The long one.", longOptions)).Text;
            }

            using OnnxChatClient client = Client(folder, continuous: true);
            System.Text.StringBuilder longText = new();
            await using IAsyncEnumerator<ChatResponseUpdate> longStream = client.GetStreamingResponseAsync("The long one.", longOptions).GetAsyncEnumerator();
            Assert.True(await longStream.MoveNextAsync());
            longText.Append(longStream.Current.Text);

            using CancellationTokenSource cancel = new();
            int seen = 0;
            await Assert.ThrowsAnyAsync<OperationCanceledException>(async () =>
            {
                await foreach (ChatResponseUpdate update in client.GetStreamingResponseAsync("Joins, then leaves.", new ChatOptions { MaxOutputTokens = 1000 }, cancel.Token))
                {
                    if (++seen == 3)
                    {
                        await cancel.CancelAsync();
                    }
                }
            });
            ChatResponse after = await client.GetResponseAsync("After", new ChatOptions { MaxOutputTokens = 4 });

            while (await longStream.MoveNextAsync())
            {
                longText.Append(longStream.Current.Text);
            }

            Assert.InRange(seen, 3, 999); // updates already buffered may still arrive; it never completes
            Assert.Equal(4, after.Usage?.OutputTokenCount);
            Assert.Equal(longAlone, longText.ToString());
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    // Disposing the client while a batch runs with a joined request ends both streams with ObjectDisposedException
    // (never a hang), and the client refuses new requests.
    [Fact]
    public async Task DisposedWhileABatchRuns_EndsEveryStream()
    {
        string folder = LlamaModels.Write(new LlamaShape(256, 4, 4, 2, 512, 1024, 2048), int4: false);
        try
        {
            OnnxChatClient client = Client(folder, continuous: true);
            IAsyncEnumerator<ChatResponseUpdate> first = client.GetStreamingResponseAsync("The long one.", new ChatOptions { MaxOutputTokens = 1500 }).GetAsyncEnumerator();
            IAsyncEnumerator<ChatResponseUpdate> second = client.GetStreamingResponseAsync("Joins it.", new ChatOptions { MaxOutputTokens = 1500 }).GetAsyncEnumerator();
            try
            {
                Assert.True(await first.MoveNextAsync());
                Assert.True(await second.MoveNextAsync());
                client.Dispose();

                static async Task DrainAsync(IAsyncEnumerator<ChatResponseUpdate> stream)
                {
                    while (await stream.MoveNextAsync())
                    {
                    }
                }

                await Assert.ThrowsAsync<ObjectDisposedException>(() => DrainAsync(first)).WaitAsync(TimeSpan.FromSeconds(30));
                await Assert.ThrowsAsync<ObjectDisposedException>(() => DrainAsync(second)).WaitAsync(TimeSpan.FromSeconds(30));
                await Assert.ThrowsAsync<ObjectDisposedException>(() => client.GetResponseAsync("Late"));
            }
            finally
            {
                await first.DisposeAsync();
                await second.DisposeAsync();
            }
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    private static DecoderRunner Join(DecoderModel model, DecoderRunner running, int[] keep, int[] prompt)
    {
        using DecoderRunner joining = new(model, [prompt.Length], false, 0);
        joining.Prefill([prompt], 0, 512);
        DecoderRunner regrouped = DecoderRunner.Regroup(running, keep, [joining]);
        running.Dispose();
        return regrouped;
    }

    // Through the client: a 5-token request sent while a 1,500-token one generates (about a second here, so that a
    // loaded machine cannot finish it before the short one arrives) ends first; with static batching it waits for the
    // whole long request and ends after it. Both answers equal the same requests served alone.
    [Theory]
    [InlineData(true, "short", "long")]
    [InlineData(false, "long", "short")]
    public async Task AShortRequest_JoinsARunningBatch_AndFinishesFirst_WithTheAnswerItGetsAlone(bool continuous, string first, string second)
    {
        string folder = LlamaModels.Write(new LlamaShape(256, 4, 4, 2, 512, 1024, 2048), int4: false);
        try
        {
            await ShortAndLongAsync(folder, continuous, first, second);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    private static async Task ShortAndLongAsync(string folder, bool continuous, string first, string second)
    {
        ChatOptions longOptions = new() { MaxOutputTokens = 1500 };
        ChatOptions shortOptions = new() { MaxOutputTokens = 5 };
        string longAlone, shortAlone;
        using (OnnxChatClient alone = Client(folder, continuous))
        {
            longAlone = (await alone.GetResponseAsync("The long one.", longOptions)).Text;
            shortAlone = (await alone.GetResponseAsync("Short", shortOptions)).Text;
        }

        using OnnxChatClient client = Client(folder, continuous);
        List<string> order = [];
        System.Text.StringBuilder longText = new();
        await using IAsyncEnumerator<ChatResponseUpdate> stream = client.GetStreamingResponseAsync("The long one.", longOptions).GetAsyncEnumerator();
        Assert.True(await stream.MoveNextAsync());
        longText.Append(stream.Current.Text);
        Task<ChatResponse> shortTask = client.GetResponseAsync("Short", shortOptions);
        Task drain = Task.Run(async () =>
        {
            while (await stream.MoveNextAsync())
            {
                longText.Append(stream.Current.Text);
            }

            lock (order)
            {
                order.Add("long");
            }
        });
        ChatResponse shortResponse = await shortTask;
        lock (order)
        {
            order.Add("short");
        }

        await drain;
        Assert.Equal([first, second], order);
        Assert.Equal(shortAlone, shortResponse.Text);
        Assert.Equal(longAlone, longText.ToString());
    }

    private static OnnxChatClient Client(string folder, bool continuous) => new(new OnnxChatClientOptions
    {
        ModelPath = folder, KvCache = OnnxKvCacheMode.Grow, ContinuousBatching = continuous, PromptFormatter = ModelFolders.Raw, Device = OnnxDevice.Cpu,
    });
}

using CostAware.Onnx.Internal;
using CostAware.Shared;
using Microsoft.Extensions.AI;

namespace CostAware.Onnx.Tests;

public sealed class SamplingTests
{
    private static readonly float[] Logits = [2.0f, 1.0f, 0.5f, 0.0f, -1.0f, 3.0f];

    private static int[] Draw(SamplingSettings settings, int n)
    {
        TokenSampler sampler = new(settings);
        return [.. Enumerable.Range(0, n).Select(_ => sampler.Next((float[])Logits.Clone()))];
    }

    private static SamplingSettings Sample(float temperature = 1, int topK = 0, float topP = 1, int seed = 7) =>
        new(Greedy: false, temperature, topK, topP, 0, 0, seed);

    [Fact]
    public void Greedy_TakesTheBest()
    {
        Assert.All(Draw(new SamplingSettings(true, 1, 0, 1, 0, 0, null), 5), t => Assert.Equal(5, t));
    }

    [Fact]
    public void SameSeed_SameTokens_OtherSeed_OtherTokens()
    {
        Assert.Equal(Draw(Sample(seed: 42), 200), Draw(Sample(seed: 42), 200));
        Assert.NotEqual(Draw(Sample(seed: 42), 200), Draw(Sample(seed: 43), 200));
    }

    [Fact]
    public void TopK_NeverLeavesTheKBest()
    {
        Assert.All(Draw(Sample(topK: 2), 2000), t => Assert.Contains(t, new[] { 5, 0 }));
    }

    [Fact]
    public void TopP_KeepsTheSmallestSetReachingP()
    {
        // Softmax of the logits: token 5 ≈ 0.61, token 0 ≈ 0.22, token 1 ≈ 0.08 …; p = 0.8 keeps {5, 0} and nothing else.
        int[] tokens = Draw(Sample(topP: 0.8f), 2000);

        Assert.All(tokens, t => Assert.Contains(t, new[] { 5, 0 }));
        Assert.Contains(0, tokens);
    }

    [Fact]
    public void Temperature_DrawsInProportionToTheSoftmax()
    {
        int[] tokens = Draw(Sample(temperature: 1), 20_000);
        double[] expected = [.. Logits.Select(l => Math.Exp(l))];
        double total = expected.Sum();

        for (int t = 0; t < Logits.Length; t++)
        {
            double share = tokens.Count(x => x == t) / 20_000.0;
            Assert.InRange(share, (expected[t] / total) - 0.015, (expected[t] / total) + 0.015);
        }
    }

    [Fact]
    public void LowTemperature_ConcentratesOnTheBest()
    {
        Assert.True(Draw(Sample(temperature: 0.05f), 500).Count(t => t == 5) > 495);
    }

    [Fact]
    public void FrequencyPenalty_StopsRepeats()
    {
        TokenSampler sampler = new(new SamplingSettings(true, 1, 0, 1, FrequencyPenalty: 5, PresencePenalty: 0, null));

        int first = sampler.Next((float[])Logits.Clone());
        int second = sampler.Next((float[])Logits.Clone());

        Assert.Equal(5, first);
        Assert.Equal(0, second);
    }

    [Fact]
    public void Settings_GreedyUnlessAskedOrTheModelSamples()
    {
        DecoderConfig config = DecoderConfig.Load(ModelFolders.Concat);

        Assert.True(SamplingSettings.From(null, config).Greedy);
        Assert.True(SamplingSettings.From(new ChatOptions { Temperature = 0 }, config).Greedy);
        Assert.False(SamplingSettings.From(new ChatOptions { Temperature = 0.7f }, config).Greedy);
        Assert.True(SamplingSettings.From(new ChatOptions { Temperature = 0.7f, TopK = 1 }, config).Greedy);
        Assert.Equal(12, SamplingSettings.From(new ChatOptions { Seed = 12, TopP = 0.9f }, config).Seed);
    }

    [Fact]
    public async Task Client_SameSeed_SameAnswer()
    {
        using OnnxChatClient client = GreedyDecodingTests.Client(ModelFolders.Concat);
        ChatOptions options = new() { Temperature = 30f, Seed = 3, MaxOutputTokens = 12 };

        ChatResponse a = await client.GetResponseAsync("x", options);
        ChatResponse b = await client.GetResponseAsync("x", options);

        Assert.Equal(a.Text, b.Text);
        Assert.NotEqual("yz{|}~", a.Text[..Math.Min(6, a.Text.Length)]); // a hot temperature leaves the greedy path
    }
}

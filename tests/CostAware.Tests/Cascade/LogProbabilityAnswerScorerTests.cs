using System.ClientModel;
using CostAware.Tests.TestUtilities;
using Microsoft.Extensions.AI;
using OpenAI;

namespace CostAware.Tests.Cascade;

// Log-probabilities as the official OpenAI SDK returns them, through a loopback stand-in.
public class LogProbabilityAnswerScorerTests
{
    private static string Completion(double first, double second) => string.Create(System.Globalization.CultureInfo.InvariantCulture, $$$"""
        {"id":"chatcmpl-1","object":"chat.completion","created":1763900000,"model":"gpt-4o-mini-2024-07-18",
         "choices":[{"index":0,"message":{"role":"assistant","content":"18"},"finish_reason":"stop",
           "logprobs":{"content":[{"token":"1","logprob":{{{first}}},"bytes":[49],"top_logprobs":[]},{"token":"8","logprob":{{{second}}},"bytes":[56],"top_logprobs":[]}],"refusal":null}}],
         "usage":{"prompt_tokens":10,"completion_tokens":2,"total_tokens":12}}
        """);

    [Theory]
    [InlineData(-0.01, -0.03, 0.980, true)]
    [InlineData(-1.5, -2.5, 0.135, false)]
    public async Task ScoreAsync_OpenAILogProbabilities_GeometricMeanProbability(double first, double second, double expected, bool accepted)
    {
        await using LoopbackProviderServer server = new((_, body) =>
        {
            Assert.Contains("\"logprobs\":true", body, StringComparison.Ordinal);
            return ("application/json", Completion(first, second));
        });
        IChatClient openai = new OpenAI.Chat.ChatClient("gpt-4o-mini", new ApiKeyCredential("k"), new OpenAIClientOptions { Endpoint = new Uri(server.BaseUri, "/v1") }).AsIChatClient();
        TestChatClient strong = new() { GetResponseAsyncCallback = (_, _, _) => Task.FromResult(new ChatResponse(new ChatMessage(ChatRole.Assistant, "strong"))) };
        using IChatClient cascade = new ModelCascadeChatClient(
            strong,
            new ModelCascadeOptions
            {
                Tiers = { new CascadeTier { Client = openai, AcceptThreshold = 0.5 }, new CascadeTier() },
                Scorers = [new LogProbabilityAnswerScorer()],
            });
        ChatOptions options = new() { RawRepresentationFactory = _ => new OpenAI.Chat.ChatCompletionOptions { IncludeLogProbabilities = true } };

        ChatResponse response = await cascade.GetResponseAsync("Eggs?", options);

        CascadeAttempt cheap = response.GetCascadeReport()!.Attempts[0];
        Assert.Equal(expected, cheap.Score!.Value, 3);
        Assert.Equal(accepted, cheap.Served);
    }

    [Fact]
    public async Task ScoreAsync_NoLogProbabilities_CannotTell()
    {
        AnswerScore score = await new LogProbabilityAnswerScorer().ScoreAsync(
            new AnswerScoringContext([], null, new ChatResponse(new ChatMessage(ChatRole.Assistant, "x")), 0), CancellationToken.None);

        Assert.Equal(1d, score.Score);
        Assert.Equal("no log-probabilities returned", score.Reason);
    }
}

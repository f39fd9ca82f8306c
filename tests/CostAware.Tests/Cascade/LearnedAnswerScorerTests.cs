using System.Text;
using Microsoft.Extensions.AI;

namespace CostAware.Tests.Cascade;

public class LearnedAnswerScorerTests
{
    // Words hashed into a few dimensions: enough for a scorer to tell two vocabularies apart.
    private sealed class HashedWords(int dimensions) : IEmbeddingGenerator<string, Embedding<float>>
    {
        public Task<GeneratedEmbeddings<Embedding<float>>> GenerateAsync(IEnumerable<string> values, EmbeddingGenerationOptions? options = null, CancellationToken cancellationToken = default)
        {
            GeneratedEmbeddings<Embedding<float>> result = [];
            foreach (string text in values)
            {
                float[] vector = new float[dimensions];
                foreach (string word in text.Split(' ', StringSplitOptions.RemoveEmptyEntries))
                {
                    vector[(int)((uint)StringComparer.Ordinal.GetHashCode(word.ToUpperInvariant()) % (uint)dimensions)] += 1f;
                }

                vector[0] += 0.01f;
                result.Add(new Embedding<float>(vector));
            }

            return Task.FromResult(result);
        }

        public object? GetService(Type serviceType, object? serviceKey = null) => null;

        public void Dispose()
        {
        }
    }

    private static List<LearnedScorerExample> Examples()
    {
        // Right answers show their working ("because"); wrong ones guess.
        List<LearnedScorerExample> examples = [];
        for (int i = 0; i < 60; i++)
        {
            bool right = i % 3 != 0;
            string answer = right ? $"because {i} plus {i} is {2 * i} so the answer is {2 * i}" : $"I think it is probably {i + 1}";
            examples.Add(new LearnedScorerExample($"What is {i} plus {i}?", answer, right));
        }

        return examples;
    }

    [Fact]
    public async Task Trained_ScoresTheKindOfAnswerThatWasRight_Higher()
    {
        LearnedAnswerScorer scorer = await LearnedAnswerScorer.TrainAsync(new HashedWords(64), Examples());

        double right = await scorer.PredictAsync("What is 70 plus 70?", "because 70 plus 70 is 140 so the answer is 140");
        double wrong = await scorer.PredictAsync("What is 70 plus 70?", "I think it is probably 71");

        Assert.True(right > 0.8, $"right {right}");
        Assert.True(wrong < 0.2, $"wrong {wrong}");

        AnswerScoringContext context = new([new ChatMessage(ChatRole.User, "What is 70 plus 70?")], null, new ChatResponse(new ChatMessage(ChatRole.Assistant, "I think it is probably 71")), 0);
        AnswerScore score = await scorer.ScoreAsync(context, CancellationToken.None);
        Assert.Equal(wrong, score.Score, 12);
    }

    [Fact]
    public async Task SaveAndLoad_GiveTheSamePredictions()
    {
        HashedWords embedder = new(32);
        LearnedAnswerScorer scorer = await LearnedAnswerScorer.TrainAsync(embedder, Examples());
        using MemoryStream saved = new();
        scorer.Save(saved);
        saved.Position = 0;

        LearnedAnswerScorer loaded = LearnedAnswerScorer.Load(saved, embedder);

        Assert.Equal(32, loaded.Dimensions);
        Assert.Equal(
            await scorer.PredictAsync("q", "because it is 4"),
            await loaded.PredictAsync("q", "because it is 4"));
    }

    [Theory]
    [InlineData("")]
    [InlineData("{\"format\":\"something-else\"}")]
    [InlineData("{\"format\":\"costaware-learned-scorer/1\",\"dimensions\":2,\"bias\":0,\"weights\":[1,2],\"means\":[0,0,0,0,0],\"scales\":[1,1,1,1,1]}")]
    [InlineData("{\"format\":\"costaware-learned-scorer/1\",\"dimensions\":1,\"bias\":0,\"weights\":[1,2,3,4,5,6,7],\"means\":[0,0,0,0,0],\"scales\":[1,1,1,1,0]}")]
    public void Load_RejectsWhatIsNotASavedScorer(string json) =>
        Assert.Throws<InvalidDataException>(() => LearnedAnswerScorer.Load(new MemoryStream(Encoding.UTF8.GetBytes(json)), new HashedWords(2)));

    [Fact]
    public async Task AnotherEmbedder_IsRefused()
    {
        LearnedAnswerScorer scorer = await LearnedAnswerScorer.TrainAsync(new HashedWords(32), Examples());
        using MemoryStream saved = new();
        scorer.Save(saved);
        saved.Position = 0;

        LearnedAnswerScorer loaded = LearnedAnswerScorer.Load(saved, new HashedWords(16));

        await Assert.ThrowsAsync<InvalidOperationException>(() => loaded.PredictAsync("q", "a"));
    }

    [Fact]
    public async Task Training_NeedsBothKindsOfAnswer() =>
        await Assert.ThrowsAsync<ArgumentException>(() => LearnedAnswerScorer.TrainAsync(
            new HashedWords(8), [.. Enumerable.Range(0, 20).Select(i => new LearnedScorerExample("q", "a", Correct: true))]));
}

using Microsoft.Extensions.AI;

namespace CostAware.Tests.Cascade;

public class RoutersTests
{
    // Two directions: prompts about sums point one way, small talk the other.
    private sealed class KeywordEmbedder : IEmbeddingGenerator<string, Embedding<float>>
    {
        public int Calls;

        public Task<GeneratedEmbeddings<Embedding<float>>> GenerateAsync(IEnumerable<string> values, EmbeddingGenerationOptions? options = null, CancellationToken cancellationToken = default)
        {
            _ = Interlocked.Increment(ref Calls);
            return Task.FromResult(new GeneratedEmbeddings<Embedding<float>>(values.Select(static v =>
                new Embedding<float>(new[] { v.Contains("sum", StringComparison.Ordinal) ? 1f : 0.1f, v.Contains("hello", StringComparison.Ordinal) ? 1f : 0.1f }))));
        }

        public object? GetService(Type serviceType, object? serviceKey = null) => null;

        public void Dispose()
        {
        }
    }

    private static readonly CascadeRoutingExample[] Examples =
    [
        new("the sum of 3 and 4", 1), new("a sum over primes", 1), new("sum these numbers", 1),
        new("hello there", 0), new("hello, how are you", 0), new("say hello", 0),
    ];

    [Fact]
    public async Task NearestNeighbour_StartsWhereSimilarExamplesWereAnsweredWell_EmbedsExamplesOnce()
    {
        KeywordEmbedder embedder = new();
        NearestNeighbourCascadeRouter router = new(embedder, Examples, k: 3);

        int hard = await router.SelectStartTierAsync([new ChatMessage(ChatRole.User, "what is the sum of the series")], null, 2, CancellationToken.None);
        int easy = await router.SelectStartTierAsync([new ChatMessage(ChatRole.User, "hello!")], null, 2, CancellationToken.None);

        Assert.Equal(1, hard);
        Assert.Equal(0, easy);
        Assert.Equal(3, embedder.Calls);
    }

    [Fact]
    public void NearestNeighbour_BadArguments_Throw()
    {
        _ = Assert.Throws<ArgumentException>(() => new NearestNeighbourCascadeRouter(new KeywordEmbedder(), []));
        _ = Assert.Throws<ArgumentOutOfRangeException>(() => new NearestNeighbourCascadeRouter(new KeywordEmbedder(), Examples, k: 0));
        _ = Assert.Throws<ArgumentOutOfRangeException>(() => new NearestNeighbourCascadeRouter(new KeywordEmbedder(), Examples, confidence: 0));
    }

    [Theory]
    [InlineData("What is the capital of France?", 0)]
    [InlineData("Solve for x: 3x = 12", 1)]
    [InlineData("Explain the difference step by step, then write ```code```.", 2)]
    public void Complexity_CountsSigns(string prompt, int points) =>
        Assert.Equal(points, new ComplexityCascadeRouter().Complexity(prompt));

    [Fact]
    public async Task Complexity_ThreeTiers_MapsPointsOntoTiers()
    {
        ComplexityCascadeRouter router = new(escalateAt: 2);

        int two = await router.SelectStartTierAsync([new ChatMessage(ChatRole.User, "Explain the proof step by step.")], null, 3, CancellationToken.None);
        int four = await router.SelectStartTierAsync([new ChatMessage(ChatRole.User, new string('x', 1_600) + " prove 2*3=6 step by step in ```python```")], null, 3, CancellationToken.None);

        Assert.Equal(1, two);
        Assert.Equal(2, four);
    }
}

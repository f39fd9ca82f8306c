namespace CostAware.Tests.Pricing;

// One worked example per provider at the built-in catalog's July 2026 list prices, exact to the cent and below.
public class WorkedExamplesTests
{
    private static decimal Cost(string model, TokenCounts tokens, bool batch = false)
    {
        Assert.True(PriceCatalog.BuiltIn.TryGetPrice(model, out ModelPrice? price), model);
        return price.CalculateCost(tokens, batch).Total;
    }

    [Fact]
    public void OpenAI_Gpt4o_CachedInput() =>

        // 6,000 x $2.50 + 4,000 x $1.25 + 2,000 x $10 per million.
        Assert.Equal(0.04m, Cost("gpt-4o", new TokenCounts { Input = 10_000, CachedInput = 4_000, Output = 2_000 }));

    [Fact]
    public void OpenAI_O3_ReasoningAndBatch()
    {
        TokenCounts tokens = new() { Input = 50_000, CachedInput = 20_000, Output = 30_000, Reasoning = 25_000 };

        // 30,000 x $2 + 20,000 x $0.50 + 5,000 x $8 + 25,000 x $8 per million; batch is half.
        Assert.Equal(0.31m, Cost("o3", tokens));
        Assert.Equal(0.155m, Cost("o3", tokens, batch: true));
    }

    [Fact]
    public void Anthropic_Sonnet45_CachedWrite5mWrite1hAndThinking()
    {
        TokenCounts tokens = new() { Input = 100_000, CachedInput = 60_000, CacheWrite = 20_000, CacheWrite1h = 10_000, Output = 5_000, Reasoning = 2_000 };

        // $0.03 uncached + $0.018 reads + $0.075 5-minute writes + $0.06 1-hour writes + $0.075 output (thinking included).
        Assert.Equal(0.258m, Cost("claude-sonnet-4-5", tokens));
        Assert.Equal(0.129m, Cost("claude-sonnet-4-5", tokens, batch: true));
    }

    [Fact]
    public void Anthropic_Sonnet45_LongContextTier() =>

        // Above 200k input tokens the whole call is billed at $6 / $22.50.
        Assert.Equal(1.5225m, Cost("claude-sonnet-4-5", new TokenCounts { Input = 250_000, Output = 1_000 }));

    [Fact]
    public void Google_Gemini25Pro_CachedAndThinking() =>

        // 60,000 x $1.25 + 40,000 x $0.125 + 10,000 x $10 per million.
        Assert.Equal(0.18m, Cost("gemini-2.5-pro", new TokenCounts { Input = 100_000, CachedInput = 40_000, Output = 10_000, Reasoning = 8_000 }));

    [Fact]
    public void Mistral_Large() =>
        Assert.Equal(0.0065m, Cost("mistral-large-latest", new TokenCounts { Input = 10_000, Output = 1_000 }));

    [Fact]
    public void DeepSeek_Chat_CacheHits() =>

        // 500,000 x $0.28 + 500,000 x $0.028 + 100,000 x $0.42 per million.
        Assert.Equal(0.196m, Cost("deepseek-chat", new TokenCounts { Input = 1_000_000, CachedInput = 500_000, Output = 100_000 }));

    [Fact]
    public void XAI_Grok4() =>
        Assert.Equal(0.045m, Cost("grok-4", new TokenCounts { Input = 10_000, Output = 1_000 }));
}

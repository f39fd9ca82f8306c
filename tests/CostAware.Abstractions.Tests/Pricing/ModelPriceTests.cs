using CsCheck;

namespace CostAware.Tests.Pricing;

public class ModelPriceTests
{
    // An Anthropic-shaped price: every class priced apart, a long-context tier, batch at half.
    private static readonly ModelPrice Sonnet = new("claude-sonnet-4-5", "anthropic", new TokenPrices(3m, 15m)
    {
        CachedInput = 0.3m,
        CacheWrite = 3.75m,
        CacheWrite1h = 6m,
    })
    {
        Batch = new TokenPrices(1.5m, 7.5m) { CachedInput = 0.15m, CacheWrite = 1.875m, CacheWrite1h = 3m },
        LongContext = [new LongContextTier(200_000, new TokenPrices(6m, 22.5m) { CachedInput = 0.6m, CacheWrite = 7.5m, CacheWrite1h = 12m })],
    };

    private static readonly Gen<TokenCounts> Tokens =
        Gen.Select(Gen.Long[0, 2_000_000], Gen.Long[0, 2_000_000], Gen.Long[0, 2_000_000], Gen.Long[0, 2_000_000], Gen.Long[0, 500_000], Gen.Long[0, 500_000])
            .Select(static (u, c, w, w1, o, r) => new TokenCounts
            {
                Input = u + c + w + w1,
                CachedInput = c,
                CacheWrite = w,
                CacheWrite1h = w1,
                Output = o + r,
                Reasoning = r,
            });

    private static readonly Gen<TokenPrices> Prices =
        Gen.Select(Gen.Int[0, 100_000], Gen.Int[0, 100_000], Gen.Int[0, 100_000], Gen.Int[0, 100_000], Gen.Int[0, 200_000], Gen.Int[0, 200_000])
            .Select(static (i, c, w, w1, o, r) => new TokenPrices(i / 1000m, o / 1000m)
            {
                CachedInput = c / 1000m,
                CacheWrite = w / 1000m,
                CacheWrite1h = w1 / 1000m,
                Reasoning = r / 1000m,
            });

    [Fact]
    public void CalculateCost_EveryClass_PricesEachSubsetOnce()
    {
        // 100,000 input = 10,000 uncached + 60,000 cache reads + 20,000 five-minute writes + 10,000 one-hour writes;
        // 5,000 output of which 2,000 are thinking tokens.
        TokenCounts tokens = new() { Input = 100_000, CachedInput = 60_000, CacheWrite = 20_000, CacheWrite1h = 10_000, Output = 5_000, Reasoning = 2_000 };

        CostBreakdown cost = Sonnet.CalculateCost(tokens);

        Assert.Equal(0.03m, cost.Input);
        Assert.Equal(0.018m, cost.CachedInput);
        Assert.Equal(0.135m, cost.CacheWrite);
        Assert.Equal(0.045m, cost.Output);
        Assert.Equal(0.03m, cost.Reasoning);
        Assert.Equal(0.258m, cost.Total);
    }

    [Fact]
    public void CalculateCost_Batch_UsesBatchPrices()
    {
        TokenCounts tokens = new() { Input = 100_000, CachedInput = 60_000, CacheWrite = 20_000, CacheWrite1h = 10_000, Output = 5_000, Reasoning = 2_000 };

        Assert.Equal(0.129m, Sonnet.CalculateCost(tokens, batch: true).Total);
    }

    [Fact]
    public void CalculateCost_InputAboveThreshold_UsesLongContextTierForWholeCall()
    {
        Assert.Equal(1.5225m, Sonnet.CalculateCost(new TokenCounts { Input = 250_000, Output = 1_000 }).Total);
        Assert.Equal(0.615m, Sonnet.CalculateCost(new TokenCounts { Input = 200_000, Output = 1_000 }).Total);
    }

    [Fact]
    public void CalculateCost_BatchWithoutBatchPrices_UsesStandardPrices()
    {
        ModelPrice noBatch = new("grok-4", "xai", new TokenPrices(3m, 15m));

        Assert.Equal(0.045m, noBatch.CalculateCost(new TokenCounts { Input = 10_000, Output = 1_000 }, batch: true).Total);
    }

    [Fact]
    public void CalculateCost_UnpricedClasses_FallBackToParentPrice()
    {
        ModelPrice plain = new("m", "p", new TokenPrices(2m, 8m));
        TokenCounts tokens = new() { Input = 1_000_000, CachedInput = 250_000, CacheWrite = 250_000, CacheWrite1h = 250_000, Output = 1_000_000, Reasoning = 500_000 };

        Assert.Equal(10m, plain.CalculateCost(tokens).Total);
    }

    [Fact]
    public void CalculateCost_InconsistentTokens_Throws()
    {
        ArgumentException ex = Assert.Throws<ArgumentException>(() => Sonnet.CalculateCost(new TokenCounts { Input = 10, CachedInput = 11 }));
        Assert.Equal("tokens", ex.ParamName);
        Assert.Throws<ArgumentException>(() => Sonnet.CalculateCost(new TokenCounts { Output = 1, Reasoning = 2 }));
        Assert.Throws<ArgumentException>(() => Sonnet.CalculateCost(new TokenCounts { Input = -1 }));
    }

    [Fact]
    public void TokenPrices_NegativePrice_Throws()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new TokenPrices(-1m, 1m));
        Assert.Throws<ArgumentOutOfRangeException>(() => new TokenPrices(1m, 1m) { CachedInput = -0.1m });
    }

    [Fact]
    public void CalculateCost_Property_MonotoneInEveryTokenCount()
    {
        Gen.Select(Prices, Tokens, Gen.Int[0, 5], Gen.Long[1, 100_000]).Sample(static (prices, tokens, cls, more) =>
        {
            ModelPrice model = new("m", "p", prices);
            TokenCounts bigger = cls switch
            {
                0 => tokens with { Input = tokens.Input + more },
                1 => tokens with { Input = tokens.Input + more, CachedInput = tokens.CachedInput + more },
                2 => tokens with { Input = tokens.Input + more, CacheWrite = tokens.CacheWrite + more },
                3 => tokens with { Input = tokens.Input + more, CacheWrite1h = tokens.CacheWrite1h + more },
                4 => tokens with { Output = tokens.Output + more },
                _ => tokens with { Output = tokens.Output + more, Reasoning = tokens.Reasoning + more },
            };
            return model.CalculateCost(bigger).Total >= model.CalculateCost(tokens).Total;
        });
    }

    [Fact]
    public void CalculateCost_Property_NeverBelowCheapestClassNorAboveDearest()
    {
        Gen.Select(Prices, Tokens).Sample(static (prices, tokens) =>
        {
            decimal total = new ModelPrice("m", "p", prices).CalculateCost(tokens).Total;
            decimal[] inputPrices = [prices.Input, prices.EffectiveCachedInput, prices.EffectiveCacheWrite, prices.EffectiveCacheWrite1h];
            decimal[] outputPrices = [prices.Output, prices.EffectiveReasoning];
            decimal floor = ((tokens.Input * inputPrices.Min()) + (tokens.Output * outputPrices.Min())) / 1_000_000m;
            decimal ceiling = ((tokens.Input * inputPrices.Max()) + (tokens.Output * outputPrices.Max())) / 1_000_000m;
            return total >= floor && total <= ceiling;
        });
    }

    [Fact]
    public void CalculateCost_Property_SplittingACallAddsUp()
    {
        Gen.Select(Prices, Tokens, Tokens).Sample(static (prices, a, b) =>
        {
            ModelPrice model = new("m", "p", prices);
            CostBreakdown sum = model.CalculateCost(a) + model.CalculateCost(b);
            CostBreakdown whole = model.CalculateCost(a + b);
            return sum == whole && sum.Total == sum.Input + sum.CachedInput + sum.CacheWrite + sum.Output + sum.Reasoning;
        });
    }

    [Fact]
    public void CalculateCost_Property_BatchAtHalfPriceCostsHalf()
    {
        Gen.Select(Prices, Tokens).Sample(static (prices, tokens) =>
        {
            ModelPrice model = new("m", "p", prices) { Batch = prices.Scale(0.5m, 0.5m) };
            return model.CalculateCost(tokens, batch: true).Total * 2 == model.CalculateCost(tokens).Total;
        });
    }

    [Fact]
    public void CalculateWorstCaseCost_NeverBelowTheCostOfAnySplitOfTheSameTokens()
    {
        // However a provider bills the input (cached, written to a 5-minute or 1-hour cache) and the output (visible or
        // reasoning), the call never costs more than its reservation.
        Tokens.Sample(tokens =>
            Sonnet.CalculateWorstCaseCost(tokens.Input, tokens.Output) >= Sonnet.CalculateCost(tokens).Total
            && Sonnet.CalculateWorstCaseCost(tokens.Input, tokens.Output, batch: true) >= Sonnet.CalculateCost(tokens, batch: true).Total);
    }

    [Fact]
    public void CalculateWorstCaseCost_AllInputAsOneHourCacheWrites_IsTheWorstCase()
    {
        // 1,000 input tokens all written to the one-hour cache ($6) and 100 output tokens ($15), per million.
        Assert.Equal(0.0075m, Sonnet.CalculateWorstCaseCost(1_000, 100));
        Assert.Equal(Sonnet.CalculateCost(new TokenCounts { Input = 1_000, CacheWrite1h = 1_000, Output = 100 }).Total, Sonnet.CalculateWorstCaseCost(1_000, 100));
        _ = Assert.Throws<ArgumentOutOfRangeException>(() => Sonnet.CalculateWorstCaseCost(-1, 0));
    }

    [Fact]
    public void MaxOutputTokens_MustBePositive()
    {
        _ = Assert.Throws<ArgumentOutOfRangeException>(() => Sonnet with { MaxOutputTokens = 0 });
        Assert.Equal(64_000, (Sonnet with { MaxOutputTokens = 64_000 }).MaxOutputTokens);
    }
}

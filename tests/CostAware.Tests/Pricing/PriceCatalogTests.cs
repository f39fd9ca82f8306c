using CostAware.Tests.TestUtilities;

namespace CostAware.Tests.Pricing;

public class PriceCatalogTests
{
    [Fact]
    public void BuiltIn_CoversSixProvidersWithSourcesAndDates()
    {
        IReadOnlyCollection<ModelPrice> models = PriceCatalog.BuiltIn.Models;

        Assert.True(models.Count >= 40, $"{models.Count} models");
        Dictionary<string, int> byProvider = models.GroupBy(m => m.Provider).ToDictionary(g => g.Key, g => g.Count());
        foreach (string provider in new[] { "openai", "anthropic", "gemini", "mistral", "deepseek", "xai" })
        {
            Assert.True(byProvider.GetValueOrDefault(provider) >= 4, $"{provider}: {byProvider.GetValueOrDefault(provider)}");
        }

        Assert.All(models, m =>
        {
            Assert.StartsWith("LiteLLM model_prices_and_context_window.json (July 2026)", m.Source, StringComparison.Ordinal);
            Assert.Equal(new DateOnly(2026, 7, 1), m.EffectiveDate);
        });
    }

    [Fact]
    public void BuiltIn_EveryFigureEqualsTheLiteLlmTable()
    {
        IReadOnlyList<ModelPrice> table = PriceCatalogLoader.LoadLiteLlm(TestData.PathOf("prices", "litellm_model_prices.json"));
        PriceCatalog litellm = new(table);

        foreach (ModelPrice model in PriceCatalog.BuiltIn.Models)
        {
            string key = model.Source!.Split('\'')[1];
            ModelPrice expected = table.Single(m => m.ModelId == key);
            Assert.Equal(expected.Standard, model.Standard);
            Assert.Equal(expected.LongContext.Select(t => (t.AboveInputTokens, t.Prices)), model.LongContext.Select(t => (t.AboveInputTokens, t.Prices)));
            if (expected.Batch is not null)
            {
                Assert.Equal(expected.Batch, model.Batch);
            }
            else if (model.Provider is "openai" or "anthropic" or "gemini")
            {
                // The documented rule where the table has no batch price: half of every class.
                Assert.Equal(model.Standard.Scale(0.5m, 0.5m), model.Batch);
                Assert.Contains("batch = 50% of synchronous", model.Source, StringComparison.Ordinal);
            }
            else
            {
                Assert.Null(model.Batch);
            }

            Assert.True(litellm.TryGetPrice(key, out _));
        }
    }

    [Theory]
    [InlineData("gpt-4o", "gpt-4o")]
    [InlineData("GPT-4o ", "gpt-4o")]
    [InlineData("gpt-4o-2024-08-06", "gpt-4o")]
    [InlineData("openai/gpt-4o", "gpt-4o")]
    [InlineData("azure/gpt-4o", "gpt-4o")]
    [InlineData("openrouter/openai/gpt-4o", "gpt-4o")]
    [InlineData("claude-sonnet-4-5-20250929", "claude-sonnet-4-5")]
    [InlineData("anthropic/claude-sonnet-4-5", "claude-sonnet-4-5")]
    [InlineData("gemini/gemini-2.5-pro", "gemini-2.5-pro")]
    [InlineData("xai/grok-4-0709", "grok-4")]
    public void TryGetPrice_AliasesAndPrefixes_FindTheModel(string name, string expected)
    {
        Assert.True(PriceCatalog.BuiltIn.TryGetPrice(name, out ModelPrice? price));
        Assert.Equal(expected, price.ModelId);
    }

    [Theory]
    [InlineData("gpt-4o-2024-05-13")]
    [InlineData("my-finetune")]
    [InlineData("")]
    [InlineData("openai/")]
    public void TryGetPrice_UnknownOrDifferentlyPricedSnapshot_NotFound(string name) =>
        Assert.False(PriceCatalog.BuiltIn.TryGetPrice(name, out _));

    [Fact]
    public void WithOverrides_LaterEntryWinsUnderIdAndAliases()
    {
        ModelPrice mine = new("gpt-4o", "openai", new TokenPrices(1m, 2m)) { Aliases = ["gpt-4o-2024-08-06"] };

        PriceCatalog catalog = PriceCatalog.BuiltIn.WithOverrides([mine]);

        Assert.True(catalog.TryGetPrice("gpt-4o", out ModelPrice? byId));
        Assert.True(catalog.TryGetPrice("gpt-4o-2024-08-06", out ModelPrice? byAlias));
        Assert.Same(mine, byId);
        Assert.Same(mine, byAlias);
        Assert.Equal(PriceCatalog.BuiltIn.Models.Count, catalog.Models.Count);
    }

    [Fact]
    public void Constructor_DefaultPricePolicyWithoutPrice_Throws()
    {
        ArgumentException ex = Assert.Throws<ArgumentException>(() => new PriceCatalog([], UnknownModelPolicy.UseDefaultPrice));
        Assert.Equal("defaultPrice", ex.ParamName);
    }
}

using System.Globalization;
using System.Text;
using CostAware.Tests.TestUtilities;
using CsCheck;
using Microsoft.Extensions.Configuration;

namespace CostAware.Tests.Pricing;

public class PriceCatalogLoaderTests
{
    private static MemoryStream Json(string text) => new(Encoding.UTF8.GetBytes(text));

    [Fact]
    public void LoadJson_FullEntry_BuildsEveryPriceAndDerivesBatch()
    {
        IReadOnlyList<ModelPrice> models = PriceCatalogLoader.LoadJson(Json("""
            { "my-model": { "Provider": "acme", "Aliases": ["acme/my-model"], "EffectiveDate": "2026-10-01", "Source": "contract 42",
                            "Input": 2, "CachedInput": 0.2, "CacheWrite": 2.5, "CacheWrite1h": 4, "Output": 8, "Reasoning": 10,
                            "BatchInput": 1, "BatchOutput": 4,
                            "LongContext": [ { "AboveInputTokens": 128000, "Input": 4, "Output": 16 } ] } }
            """), "test.json");

        ModelPrice m = Assert.Single(models);
        Assert.Equal("acme", m.Provider);
        Assert.Equal(["acme/my-model"], m.Aliases);
        Assert.Equal(new DateOnly(2026, 10, 1), m.EffectiveDate);
        Assert.Equal("contract 42", m.Source);
        Assert.Equal(new TokenPrices(2m, 8m) { CachedInput = 0.2m, CacheWrite = 2.5m, CacheWrite1h = 4m, Reasoning = 10m }, m.Standard);
        Assert.Equal(new TokenPrices(1m, 4m) { CachedInput = 0.1m, CacheWrite = 1.25m, CacheWrite1h = 2m, Reasoning = 5m }, m.Batch);
        LongContextTier tier = Assert.Single(m.LongContext);
        Assert.Equal(128_000, tier.AboveInputTokens);
        Assert.Equal(new TokenPrices(2m, 8m), tier.Batch);
    }

    [Theory]
    [InlineData("""{ "m": { "Provider": "p", "Input": 1, "Ouput": 2 } }""", "Price entry 'm', field 'Ouput' in test.json: is not a known field.")]
    [InlineData("""{ "m": { "Provider": "p", "Input": "cheap", "Output": 2 } }""", "Price entry 'm', field 'Input' in test.json: 'cheap' is not a number (USD per million tokens).")]
    [InlineData("""{ "m": { "Provider": "p", "Input": 1 } }""", "Price entry 'm', field 'Output' in test.json: is required (USD per million tokens).")]
    [InlineData("""{ "m": { "Provider": "p", "Input": -1, "Output": 2 } }""", "Price entry 'm', field 'Input' in test.json: must not be negative, but is -1.")]
    [InlineData("""{ "m": { "Input": 1, "Output": 2 } }""", "Price entry 'm', field 'Provider' in test.json: is required for a model that is not in the catalog yet.")]
    [InlineData("""{ "m": { "Provider": "p", "Input": 1, "Output": 2, "BatchInput": 0.5 } }""", "Price entry 'm', field 'BatchOutput' in test.json: is required when the other batch price is set.")]
    [InlineData("""{ "m": { "Provider": "p", "Input": 1, "Output": 2, "EffectiveDate": "soon" } }""", "Price entry 'm', field 'EffectiveDate' in test.json: 'soon' is not a date (use yyyy-MM-dd).")]
    [InlineData("""{ "m": { "Provider": "p", "Input": 1, "Output": 2, "LongContext": [ { "Input": 2, "Output": 3 } ] } }""", "Price entry 'm', field 'LongContext:0:AboveInputTokens' in test.json: is required and must be positive.")]
    public void LoadJson_MalformedEntry_MessageNamesEntryAndField(string json, string message)
    {
        PriceCatalogException ex = Assert.Throws<PriceCatalogException>(() => PriceCatalogLoader.LoadJson(Json(json), "test.json"));

        Assert.Equal(message, ex.Message);
        Assert.Equal("m", ex.Entry);
    }

    [Fact]
    public void LoadJson_NotJson_Throws() =>
        Assert.Throws<PriceCatalogException>(() => PriceCatalogLoader.LoadJson(Json("{ nope"), "test.json"));

    [Fact]
    public void LoadJson_MissingFile_ThrowsNamingThePath()
    {
        PriceCatalogException ex = Assert.Throws<PriceCatalogException>(() => PriceCatalogLoader.LoadJson("/nonexistent/prices.json"));
        Assert.Contains("/nonexistent/prices.json", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void LoadConfiguration_OverrideInheritsProviderAndAliases()
    {
        IConfiguration config = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["CostAware:Prices:gpt-4o:Input"] = "2",
            ["CostAware:Prices:gpt-4o:Output"] = "8",
        }).Build();

        ModelPrice m = Assert.Single(PriceCatalogLoader.LoadConfiguration(config.GetSection("CostAware:Prices"), existing: PriceCatalog.BuiltIn));

        Assert.Equal("openai", m.Provider);
        Assert.Contains("gpt-4o-2024-08-06", m.Aliases);
        Assert.Equal("configuration 'CostAware:Prices'", m.Source);
    }

    [Fact]
    public void LoadLiteLlm_RealTable_ConvertsPerTokenToPerMillionExactly()
    {
        IReadOnlyList<ModelPrice> models = PriceCatalogLoader.LoadLiteLlm(TestData.PathOf("prices", "litellm_model_prices.json"));
        PriceCatalog catalog = new(models);

        Assert.True(models.Count > 2_000, $"{models.Count}");
        Assert.True(catalog.TryGetPrice("gpt-4o", out ModelPrice? gpt4o));
        Assert.Equal(new TokenPrices(2.5m, 10m) { CachedInput = 1.25m }, gpt4o.Standard);
        Assert.Equal(new TokenPrices(1.25m, 5m) { CachedInput = 0.625m }, gpt4o.Batch);
        Assert.True(catalog.TryGetPrice("claude-sonnet-4-5", out ModelPrice? sonnet));
        Assert.Equal(6m, sonnet.Standard.CacheWrite1h);
        Assert.Equal(200_000, Assert.Single(sonnet.LongContext).AboveInputTokens);
        Assert.Equal("anthropic", sonnet.Provider);
    }

    [Fact]
    public void LoadLiteLlm_PriceNotANumber_MessageNamesEntryAndField()
    {
        PriceCatalogException ex = Assert.Throws<PriceCatalogException>(() => PriceCatalogLoader.LoadLiteLlm(
            Json("""{ "m": { "litellm_provider": "p", "input_cost_per_token": "free", "output_cost_per_token": 1e-6 } }"""), "table.json"));

        Assert.Equal("Price entry 'm', field 'input_cost_per_token' in table.json: '\"free\"' is not a number (USD per token).", ex.Message);
    }

    [Fact]
    public void LoadLiteLlm_Property_PerTokenTextToPerMillionIsExact()
    {
        // Per-token prices up to a dollar a token (TokenPrices.MaxPrice per million).
        Gen.Select(Gen.Int[0, 999_999_999], Gen.Int[9, 15]).Sample(static (mantissa, scale) =>
        {
            decimal perToken = new(mantissa, 0, 0, false, (byte)scale);
            string text = perToken.ToString("E6", CultureInfo.InvariantCulture);
            decimal expected = decimal.Parse(text, NumberStyles.Float, CultureInfo.InvariantCulture) * 1_000_000m;
            string json = $$"""{ "m": { "litellm_provider": "p", "input_cost_per_token": {{text}}, "output_cost_per_token": {{perToken.ToString(CultureInfo.InvariantCulture)}} } }""";

            ModelPrice m = Assert.Single(PriceCatalogLoader.LoadLiteLlm(Json(json)));
            return m.Standard.Input == expected && m.Standard.Output == perToken * 1_000_000m;
        });
    }
}

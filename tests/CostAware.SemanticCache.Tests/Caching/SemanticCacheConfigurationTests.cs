using CostAware.Tests.TestUtilities;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace CostAware.SemanticCache.Tests.Caching;

public sealed class SemanticCacheConfigurationTests
{
    private static IConfigurationSection Section(Dictionary<string, string?> values) =>
        new ConfigurationBuilder().AddInMemoryCollection(values).Build().GetSection("CostAware:SemanticCache");

    [Fact]
    public void Options_bind_from_configuration_and_the_stage_uses_them()
    {
        ServiceCollection services = new();
        services.AddCostAwareSemanticCache(Section(new()
        {
            ["CostAware:SemanticCache:SimilarityThreshold"] = "0.97",
            ["CostAware:SemanticCache:Guards"] = "Numbers, Entities",
            ["CostAware:SemanticCache:PartitionThresholds:acme"] = "0.99",
            ["CostAware:SemanticCache:Index"] = "Hnsw",
        }));
        using ServiceProvider provider = services.BuildServiceProvider();

        SemanticCacheOptions options = provider.GetRequiredService<IOptions<SemanticCacheOptions>>().Value;
        Assert.Equal(0.97f, options.SimilarityThreshold);
        Assert.Equal(SemanticGuards.Numbers | SemanticGuards.Entities, options.Guards);
        Assert.Equal(0.99f, options.PartitionThresholds["acme"]);
        Assert.Equal(SemanticIndexKind.Hnsw, options.Index);

        using IChatClient client = new ChatClientBuilder(new TestChatClient()).UseSemanticCache().Build(provider);
        Assert.NotNull(client.GetService<SemanticCacheChatClient>());
    }

    [Fact]
    public void Unknown_key_fails_at_start_naming_it()
    {
        // A typo used to be ignored: the default threshold stayed in force without a word.
        ServiceCollection services = new();
        services.AddCostAwareSemanticCache(Section(new() { ["CostAware:SemanticCache:SimilarityTreshold"] = "0.97" }));
        using ServiceProvider provider = services.BuildServiceProvider();

        InvalidOperationException error = Assert.Throws<InvalidOperationException>(() => provider.GetRequiredService<IOptions<SemanticCacheOptions>>().Value);
        Assert.Contains("SimilarityTreshold", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("SimilarityThreshold", "1.5", "SimilarityThreshold")]
    [InlineData("PartitionThresholds:acme", "-2", "PartitionThresholds:acme")]
    [InlineData("MaxEntries", "0", "MaxEntries")]
    [InlineData("Model2VecModelPath", "/no/such/folder", "Model2VecModelPath")]
    public void Invalid_options_fail_with_a_message_naming_the_field(string key, string value, string named)
    {
        ServiceCollection services = new();
        services.AddCostAwareSemanticCache(Section(new() { ["CostAware:SemanticCache:" + key] = value }));
        using ServiceProvider provider = services.BuildServiceProvider();

        OptionsValidationException error = Assert.Throws<OptionsValidationException>(
            () => new ChatClientBuilder(new TestChatClient()).UseSemanticCache().Build(provider));
        Assert.Contains(named, error.Message, StringComparison.Ordinal);
    }
}

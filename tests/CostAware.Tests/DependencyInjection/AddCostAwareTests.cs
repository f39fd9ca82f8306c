using CostAware.Tests.TestUtilities;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace CostAware.Tests.DependencyInjection;

public class AddCostAwareTests
{
    private static IConfigurationSection Section(Dictionary<string, string?> values) =>
        new ConfigurationBuilder().AddInMemoryCollection(values).Build().GetSection("CostAware");

    [Fact]
    public async Task AddCostAware_ConfigurationOverrides_UsedByMeteringFromDI()
    {
        ServiceCollection services = new();
        services.AddCostAware(Section(new()
        {
            ["CostAware:Prices:gpt-4o:Input"] = "1",
            ["CostAware:Prices:gpt-4o:Output"] = "4",
            ["CostAware:Prices:house-model:Provider"] = "self-hosted",
            ["CostAware:Prices:house-model:Input"] = "0.1",
            ["CostAware:Prices:house-model:Output"] = "0.2",
        }));
        TestChatClient inner = new()
        {
            GetResponseAsyncCallback = (_, o, _) => Task.FromResult(new ChatResponse(new ChatMessage(ChatRole.Assistant, "a"))
            {
                ModelId = o?.ModelId ?? "gpt-4o",
                Usage = new UsageDetails { InputTokenCount = 1_000_000, OutputTokenCount = 1_000_000 },
            }),
        };
        services.AddChatClient(inner).UseTokenMetering();
        await using ServiceProvider provider = services.BuildServiceProvider();
        IChatClient client = provider.GetRequiredService<IChatClient>();

        Assert.Equal(5m, (await client.GetResponseAsync("q")).GetCostReceipt()!.Spent);
        Assert.Equal(0.3m, (await client.GetResponseAsync("q", new ChatOptions { ModelId = "house-model" })).GetCostReceipt()!.Spent);
        Assert.Equal(2, await provider.GetRequiredService<ICostLedger>().QueryAsync(CostLedgerQuery.All).CountAsync());
        Assert.Same(provider.GetRequiredService<TimeProvider>(), TimeProvider.System);
    }

    [Fact]
    public void AddCostAware_LiteLlmFile_LoadedUnderOverrides()
    {
        ServiceCollection services = new();
        services.AddCostAware(o =>
        {
            o.LiteLlmPriceFiles.Add(TestData.PathOf("prices", "litellm_model_prices.json"));
            o.Prices["gpt-4o"] = new ModelPriceOptions { Input = 1, Output = 2 };
        });
        using ServiceProvider provider = services.BuildServiceProvider();
        IPriceCatalog catalog = provider.GetRequiredService<IPriceCatalog>();

        Assert.True(catalog.TryGetPrice("gpt-4o", out ModelPrice? gpt4o));
        Assert.Equal(1m, gpt4o.Standard.Input);
        Assert.True(catalog.TryGetPrice("gpt-4o-2024-05-13", out ModelPrice? may));
        Assert.Equal(5m, may.Standard.Input);
    }

    [Theory]
    [InlineData("CostAware:Prices:gpt-4o:Input", "-2", "Price entry 'gpt-4o', field 'Input' in configuration 'CostAware:Prices': must not be negative, but is -2.")]
    [InlineData("CostAware:UnknownModelPolicy", "UseDefaultPrice", "CostAware:DefaultPrice is required when CostAware:UnknownModelPolicy is UseDefaultPrice.")]
    [InlineData("CostAware:PriceFiles:0", "/nonexistent/prices.json", "The price file '/nonexistent/prices.json' cannot be read: ")]
    public void AddCostAware_InvalidConfiguration_FailsValidationNamingTheProblem(string key, string value, string message)
    {
        ServiceCollection services = new();
        services.AddCostAware(Section(new() { [key] = value, ["CostAware:Prices:gpt-4o:Output"] = "1" }));
        using ServiceProvider provider = services.BuildServiceProvider();

        OptionsValidationException ex = Assert.Throws<OptionsValidationException>(() => provider.GetRequiredService<IOptions<CostAwareOptions>>().Value);

        Assert.Contains(ex.Failures, f => f.StartsWith(message, StringComparison.Ordinal));
    }

    [Fact]
    public void AddCostAware_UnknownKey_FailsAtStart()
    {
        ServiceCollection services = new();
        services.AddCostAware(Section(new() { ["CostAware:UnknownModelPolicyy"] = "Throw" }));
        using ServiceProvider provider = services.BuildServiceProvider();

        InvalidOperationException ex = Assert.Throws<InvalidOperationException>(() => provider.GetRequiredService<IOptions<CostAwareOptions>>().Value);
        Assert.Contains("UnknownModelPolicyy", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void AddCostAware_OtherPackagesSections_LeftToThemButNestedUnknownKeysStillFail()
    {
        ServiceCollection services = new();
        services.AddCostAware(Section(new() { ["CostAware:SemanticCache:SimilarityThreshold"] = "0.95", ["CostAware:PromptCache:TimeToLive"] = "00:10:00" }));
        using ServiceProvider provider = services.BuildServiceProvider();
        Assert.Equal(TimeSpan.FromMinutes(10), provider.GetRequiredService<IOptions<CostAwareOptions>>().Value.PromptCache.TimeToLive);

        ServiceCollection typo = new();
        typo.AddCostAware(Section(new() { ["CostAware:PromptCache:TimeToLiv"] = "00:10:00" }));
        using ServiceProvider typoProvider = typo.BuildServiceProvider();
        InvalidOperationException ex = Assert.Throws<InvalidOperationException>(() => typoProvider.GetRequiredService<IOptions<CostAwareOptions>>().Value);
        Assert.Contains("TimeToLiv", ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("CostAware:Batching:QueuePath", "queue.db")]
    [InlineData("CostAware:Onnx:Chat:ModelPath", "/models/phi")]
    [InlineData("CostAware:SemanticCache:SimilarityThreshold", "0.95")]
    public void AddCostAware_TheDocsLayoutWithOtherPackagesSectionsUnderCostAware_Starts(string key, string value)
    {
        // docs/batch-deferral.md, docs/local-onnx.md and the README put these sections under the one given to AddCostAware.
        ServiceCollection services = new();
        services.AddCostAware(Section(new() { [key] = value }));
        using ServiceProvider provider = services.BuildServiceProvider();

        Assert.NotNull(provider.GetRequiredService<IOptions<CostAwareOptions>>().Value);
    }

    [Fact]
    public void AddCostAware_PriceAboveTheHighestAccepted_FailsAtStartNamingTheField()
    {
        ServiceCollection services = new();
        services.AddCostAware(Section(new() { ["CostAware:Prices:my-model:Provider"] = "me", ["CostAware:Prices:my-model:Input"] = "79228162514264337593543950335", ["CostAware:Prices:my-model:Output"] = "1" }));
        using ServiceProvider provider = services.BuildServiceProvider();

        Exception ex = Assert.ThrowsAny<Exception>(() => provider.GetRequiredService<IOptions<CostAwareOptions>>().Value);
        Assert.Contains("my-model", ex.Message, StringComparison.Ordinal);
        Assert.Contains("Input", ex.Message, StringComparison.Ordinal);
        _ = Assert.Throws<ArgumentOutOfRangeException>(() => new TokenPrices(decimal.MaxValue, 1m));
    }

    [Fact]
    public async Task ValidateCostAwareOptionsAsync_PlainServiceProvider_FindsABadConfigurationBeforeAnyCall()
    {
        ServiceCollection services = new();
        services.AddCostAware(Section(new() { ["CostAware:Budget:Budgets:daily:Limit"] = "-5" }));
        using ServiceProvider provider = services.BuildServiceProvider();

        OptionsValidationException ex = await Assert.ThrowsAsync<OptionsValidationException>(() => provider.ValidateCostAwareOptionsAsync());
        Assert.Contains(ex.Failures, f => f.Contains("Budget:Budgets:daily:Limit", StringComparison.Ordinal));
    }

    [Fact]
    public void AddCostAware_NullArguments_Throw()
    {
        Assert.Throws<ArgumentNullException>(() => ((IServiceCollection)null!).AddCostAware());
        Assert.Throws<ArgumentNullException>(() => new ServiceCollection().AddCostAware((IConfigurationSection)null!));
        Assert.Throws<ArgumentNullException>(() => new ServiceCollection().AddCostAware((Action<CostAwareOptions>)null!));
        Assert.Throws<ArgumentNullException>(() => ((ChatClientBuilder)null!).UseTokenMetering());
    }

    [Fact]
    public async Task AddCostAware_PromptCacheSection_UsedByUsePromptCache()
    {
        ServiceCollection services = new();
        services.AddCostAware(Section(new()
        {
            ["CostAware:PromptCache:CacheToolCallResponses"] = "true",
            ["CostAware:PromptCache:SharedPartitions:0"] = "public-faq",
            ["CostAware:Redis:InstanceName"] = "app:",
        }));
        TestChatClient inner = new()
        {
            GetResponseAsyncCallback = (_, _, _) => Task.FromResult(new ChatResponse(
                new ChatMessage(ChatRole.Assistant, [new FunctionCallContent("c1", "lookup")])) { FinishReason = ChatFinishReason.ToolCalls }),
        };
        services.AddChatClient(inner).UsePromptCache();
        await using ServiceProvider provider = services.BuildServiceProvider();
        IChatClient client = provider.GetRequiredService<IChatClient>();
        ChatOptions faq = new ChatOptions().WithCacheControl(new CacheControl { SharedPartition = "public-faq" });

        _ = await client.GetResponseAsync("q", faq);
        _ = await client.GetResponseAsync("q", faq);

        Assert.Equal(1, inner.Calls);
    }

    [Fact]
    public void AddCostAware_InvalidPromptCacheSection_FailsValidationNamingTheField()
    {
        ServiceCollection services = new();
        services.AddCostAware(Section(new()
        {
            ["CostAware:PromptCache:TimeToLive"] = "01:00:00",
            ["CostAware:PromptCache:LocalTimeToLive"] = "02:00:00",
        }));
        using ServiceProvider provider = services.BuildServiceProvider();

        OptionsValidationException ex = Assert.Throws<OptionsValidationException>(() => provider.GetRequiredService<IOptions<CostAwareOptions>>().Value);
        Assert.Contains("PromptCache:LocalTimeToLive (02:00:00) must not exceed PromptCache:TimeToLive (01:00:00).", ex.Failures);
    }
}

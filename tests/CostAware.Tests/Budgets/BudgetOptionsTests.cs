using CostAware.Tests.TestUtilities;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace CostAware.Tests.Budgets;

public class BudgetOptionsTests
{
    private static BudgetChatClient Build(Action<BudgetDefinition> change)
    {
        BudgetDefinition definition = new() { Per = [CostScopeDimension.Tenant], Limit = 5m };
        change(definition);
        return new BudgetChatClient(new TestChatClient(), new BudgetOptions { Budgets = { ["daily"] = definition } });
    }

    [Theory]
    [InlineData("0", "Budget:Budgets:daily:Limit (0) must be greater than 0 and at most 9000000.")]
    [InlineData("-1", "Budget:Budgets:daily:Limit (-1) must be greater than 0 and at most 9000000.")]
    [InlineData("9000001", "Budget:Budgets:daily:Limit (9000001) must be greater than 0 and at most 9000000.")]
    public void Constructor_BadLimit_ThrowsNamingTheBudgetAndValue(string limit, string message)
    {
        OptionsValidationException ex = Assert.Throws<OptionsValidationException>(() => Build(b => b.Limit = decimal.Parse(limit, System.Globalization.CultureInfo.InvariantCulture)));
        Assert.Contains(message, ex.Failures);
    }

    [Fact]
    public void Constructor_NoLimitAtAll_Throws()
    {
        OptionsValidationException ex = Assert.Throws<OptionsValidationException>(() => Build(b => b.Limit = null));
        Assert.Contains("Budget:Budgets:daily sets no limit: give it a Limit (money), MaxCalls, or both.", ex.Failures);
    }

    [Fact]
    public void Constructor_RollingWithoutDuration_Throws()
    {
        OptionsValidationException ex = Assert.Throws<OptionsValidationException>(() => Build(b => b.Window = BudgetWindow.Rolling));
        Assert.Contains("Budget:Budgets:daily:RollingDuration is required for a Rolling window.", ex.Failures);
    }

    [Fact]
    public void Constructor_DurationOnACalendarWindow_Throws()
    {
        OptionsValidationException ex = Assert.Throws<OptionsValidationException>(() => Build(b => b.RollingDuration = TimeSpan.FromHours(1)));
        Assert.Contains("Budget:Budgets:daily:RollingDuration (01:00:00) is only used by a Rolling window, and Window is Day.", ex.Failures);
    }

    [Fact]
    public void Constructor_RollingDurationTooShort_Throws()
    {
        OptionsValidationException ex = Assert.Throws<OptionsValidationException>(() => Build(b =>
        {
            b.Window = BudgetWindow.Rolling;
            b.RollingDuration = TimeSpan.FromSeconds(1);
        }));
        Assert.Contains(ex.Failures, f => f.StartsWith("Budget:Budgets:daily: The field RollingDuration must be between 00:00:10", StringComparison.Ordinal));
    }

    [Fact]
    public void Constructor_UnknownTimeZone_Throws()
    {
        OptionsValidationException ex = Assert.Throws<OptionsValidationException>(() => Build(b => b.TimeZone = "Mars/Olympus_Mons"));
        Assert.Contains("Budget:Budgets:daily:TimeZone 'Mars/Olympus_Mons' is not a time zone this system knows (use an IANA id such as 'Europe/Paris', or 'UTC').", ex.Failures);
    }

    [Fact]
    public void Constructor_SwitchModelWithoutFallback_Throws()
    {
        OptionsValidationException ex = Assert.Throws<OptionsValidationException>(() => Build(b => b.Action = BudgetAction.SwitchModel));
        Assert.Contains("Budget:Budgets:daily:FallbackModelId is required when Action is SwitchModel.", ex.Failures);
    }

    [Theory]
    [InlineData(0d)]
    [InlineData(1.5d)]
    [InlineData(double.NaN)]
    public void Constructor_ThresholdOutOfRange_Throws(double threshold)
    {
        OptionsValidationException ex = Assert.Throws<OptionsValidationException>(() => Build(b => b.Thresholds = [threshold]));
        Assert.Contains(ex.Failures, f => f.StartsWith("Budget:Budgets:daily:Thresholds: ", StringComparison.Ordinal) && f.EndsWith("must be a fraction of the limit in (0, 1].", StringComparison.Ordinal));
    }

    [Fact]
    public void Constructor_ScopeLimitKeyWithTheWrongNumberOfValues_Throws()
    {
        OptionsValidationException ex = Assert.Throws<OptionsValidationException>(() => Build(b => b.ScopeLimits["acme/chat"] = 10m));
        Assert.Contains("Budget:Budgets:daily:ScopeLimits: the key 'acme/chat' must give one value for each Per dimension (1), joined with '/'.", ex.Failures);
    }

    [Fact]
    public void Constructor_DimensionTwice_Throws()
    {
        OptionsValidationException ex = Assert.Throws<OptionsValidationException>(() => Build(b => b.Per.Add(CostScopeDimension.Tenant)));
        Assert.Contains("Budget:Budgets:daily:Per names Tenant twice.", ex.Failures);
    }

    [Fact]
    public void Constructor_UndefinedDimension_Throws()
    {
        OptionsValidationException ex = Assert.Throws<OptionsValidationException>(() => Build(b => b.Per = [(CostScopeDimension)42]));
        Assert.Contains("Budget:Budgets:daily:Per: '42' is not a scope dimension (Tenant, User, ApiKey, Agent, Workflow, Feature).", ex.Failures);
    }

    [Theory]
    [InlineData("has space")]
    [InlineData("pipe|name")]
    [InlineData("{tag}")]
    [InlineData("")]
    public void Constructor_BadBudgetName_Throws(string name)
    {
        BudgetOptions options = new() { Budgets = { [name] = new BudgetDefinition { Limit = 1m } } };
        OptionsValidationException ex = Assert.Throws<OptionsValidationException>(() => new BudgetChatClient(new TestChatClient(), options));
        Assert.Contains($"Budget:Budgets: the budget name '{name}' must be 1 to 64 printable ASCII characters without spaces, '|', '{{' or '}}'.", ex.Failures);
    }

    [Fact]
    public void AddCostAware_BudgetsFromConfiguration_Bound()
    {
        IConfigurationSection section = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["CostAware:Budget:MaxOutputTokensCeiling"] = "4096",
            ["CostAware:Budget:StoreFailureMode"] = "FailOpen",
            ["CostAware:Budget:Budgets:tenant-monthly:Per:0"] = "Tenant",
            ["CostAware:Budget:Budgets:tenant-monthly:Per:1"] = "Feature",
            ["CostAware:Budget:Budgets:tenant-monthly:Window"] = "Month",
            ["CostAware:Budget:Budgets:tenant-monthly:TimeZone"] = "Europe/Paris",
            ["CostAware:Budget:Budgets:tenant-monthly:Limit"] = "100",
            ["CostAware:Budget:Budgets:tenant-monthly:ScopeLimits:acme/chat"] = "500",
            ["CostAware:Budget:Budgets:tenant-monthly:Thresholds:0"] = "0.9",
            ["CostAware:Budget:Budgets:agent-run:Per:0"] = "Workflow",
            ["CostAware:Budget:Budgets:agent-run:Window"] = "Lifetime",
            ["CostAware:Budget:Budgets:agent-run:MaxCalls"] = "50",
            ["CostAware:Budget:Budgets:chat-only:Where:Feature"] = "chat",
            ["CostAware:Budget:Budgets:chat-only:Window"] = "Rolling",
            ["CostAware:Budget:Budgets:chat-only:RollingDuration"] = "01:00:00",
            ["CostAware:Budget:Budgets:chat-only:Limit"] = "2",
            ["CostAware:Budget:Budgets:chat-only:Action"] = "ClampOutput",
        }).Build().GetSection("CostAware");
        using ServiceProvider services = new ServiceCollection().AddCostAware(section).BuildServiceProvider();

        BudgetOptions options = services.GetRequiredService<IOptions<CostAwareOptions>>().Value.Budget;

        Assert.Equal(4096, options.MaxOutputTokensCeiling);
        Assert.Equal(BudgetStoreFailureMode.FailOpen, options.StoreFailureMode);
        BudgetDefinition monthly = options.Budgets["tenant-monthly"];
        Assert.Equal([CostScopeDimension.Tenant, CostScopeDimension.Feature], monthly.Per);
        Assert.Equal(BudgetWindow.Month, monthly.Window);
        Assert.Equal(500m, monthly.ScopeLimits["acme/chat"]);
        Assert.Equal([0.9], monthly.Thresholds!);
        Assert.Equal(50, options.Budgets["agent-run"].MaxCalls);
        Assert.Equal("chat", options.Budgets["chat-only"].Where[CostScopeDimension.Feature]);
        Assert.Equal(TimeSpan.FromHours(1), options.Budgets["chat-only"].RollingDuration);
    }

    [Fact]
    public void AddCostAware_UnknownScopeDimensionInConfiguration_FailsAtStartNamingThePath()
    {
        IConfigurationSection section = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["CostAware:Budget:Budgets:daily:Per:0"] = "Tenent",
            ["CostAware:Budget:Budgets:daily:Limit"] = "5",
        }).Build().GetSection("CostAware");
        using ServiceProvider services = new ServiceCollection().AddCostAware(section).BuildServiceProvider();

        InvalidOperationException ex = Assert.Throws<InvalidOperationException>(() => services.GetRequiredService<IOptions<CostAwareOptions>>().Value);
        Assert.Equal(
            "The CostAware configuration section is not valid: Failed to convert configuration value 'Tenent' at 'Budget:Budgets:daily:Per:0' to type 'CostAware.CostScopeDimension'.",
            ex.Message);
    }

    [Fact]
    public void AddCostAware_TypoInsideWhere_FailsAtStartNamingTheKey()
    {
        IConfigurationSection section = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["CostAware:Budget:Budgets:chat:Where:Featur"] = "chat",
            ["CostAware:Budget:Budgets:chat:Limit"] = "5",
        }).Build().GetSection("CostAware");
        using ServiceProvider services = new ServiceCollection().AddCostAware(section).BuildServiceProvider();

        Exception ex = Assert.ThrowsAny<Exception>(() => services.GetRequiredService<IOptions<CostAwareOptions>>().Value);
        Assert.Contains("Budget:Budgets:chat:Where:Featur", ex.Message, StringComparison.Ordinal);
        Assert.Contains("Tenant, User, ApiKey, Agent, Workflow, Feature", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void AddCostAware_InvalidBudgetInConfiguration_FailsValidation()
    {
        IConfigurationSection section = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["CostAware:Budget:Budgets:daily:Limit"] = "-5",
        }).Build().GetSection("CostAware");
        using ServiceProvider services = new ServiceCollection().AddCostAware(section).BuildServiceProvider();

        OptionsValidationException ex = Assert.Throws<OptionsValidationException>(() => services.GetRequiredService<IOptions<CostAwareOptions>>().Value);
        Assert.Contains("Budget:Budgets:daily:Limit (-5) must be greater than 0 and at most 9000000.", ex.Failures);
    }

    [Fact]
    public async Task UseBudget_ConfigurationReload_ChangesTheLimitForTheNextCall()
    {
        Dictionary<string, string?> values = new()
        {
            ["CostAware:Budget:Budgets:daily:Per:0"] = "Tenant",
            ["CostAware:Budget:Budgets:daily:Limit"] = "0.0001",
        };
        IConfigurationRoot root = new ConfigurationBuilder().AddInMemoryCollection(values).Build();
        ServiceCollection services = new();
        _ = services.AddCostAware(root.GetSection("CostAware"));
        TestChatClient provider = new()
        {
            GetResponseAsyncCallback = (_, _, _) => Task.FromResult(new ChatResponse(new ChatMessage(ChatRole.Assistant, "ok"))
            {
                ModelId = "gpt-4o-mini",
                Usage = new UsageDetails { InputTokenCount = 10, OutputTokenCount = 10 },
            }),
        };
        _ = services.AddChatClient(provider).UseBudget().UseTokenMetering();
        await using ServiceProvider provided = services.BuildServiceProvider();
        IChatClient client = provided.GetRequiredService<IChatClient>();
        ChatOptions options = new ChatOptions { ModelId = "gpt-4o-mini", MaxOutputTokens = 500 }.WithCostScope(new CostScope { Tenant = "acme" });

        _ = await Assert.ThrowsAsync<BudgetExceededException>(() => client.GetResponseAsync("q", options));
        root["CostAware:Budget:Budgets:daily:Limit"] = "1";
        root.Reload();
        _ = await client.GetResponseAsync("q", options);

        Assert.Equal(1, provider.Calls);
        Assert.Equal(1m, Assert.Single(await client.GetService<BudgetChatClient>()!.GetStatusAsync(new CostScope { Tenant = "acme" })).Limit);
    }

    [Fact]
    public void UseBudget_WithoutServicesOrBudgets_AddsNothing()
    {
        TestChatClient provider = new();
        IChatClient client = new ChatClientBuilder(provider).UseBudget().Build();
        Assert.Same(provider, client);
    }
}

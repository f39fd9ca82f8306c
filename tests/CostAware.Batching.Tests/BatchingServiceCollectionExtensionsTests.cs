using System.ClientModel;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using OpenAI;

namespace CostAware.Batching.Tests;

public sealed class BatchingServiceCollectionExtensionsTests : IAsyncLifetime
{
    private readonly string _path = Path.Combine(Path.GetTempPath(), $"costaware-di-{Guid.NewGuid():N}.db");
    private OpenAIBatchStandIn _server = null!;

    public async Task InitializeAsync() => _server = await OpenAIBatchStandIn.StartAsync();

    public async Task DisposeAsync()
    {
        await _server.DisposeAsync();
        SqliteFiles.Delete(_path);
    }

    [Fact]
    public void AddCostAwareBatching_BindsTheSection()
    {
        IConfigurationSection section = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["CostAware:Batching:QueuePath"] = _path,
            ["CostAware:Batching:MaxBatchRequests"] = "500",
            ["CostAware:Batching:MaxWait"] = "00:10:00",
            ["CostAware:Batching:ExpectedBatchLatency"] = "06:00:00",
            ["CostAware:Batching:DeferScopes:0:Feature"] = "nightly-report",
        }).Build().GetSection("CostAware:Batching");
        using ServiceProvider services = new ServiceCollection().AddCostAwareBatching(section).BuildServiceProvider();

        BatchDeferralOptions options = services.GetRequiredService<IOptions<BatchDeferralOptions>>().Value;

        Assert.Equal(500, options.MaxBatchRequests);
        Assert.Equal(TimeSpan.FromMinutes(10), options.MaxWait);
        Assert.Equal(TimeSpan.FromHours(6), options.ExpectedBatchLatency);
        Assert.Equal("nightly-report", Assert.Single(options.DeferScopes)[CostScopeDimension.Feature]);
        Assert.Single(services.GetServices<IHostedService>());
    }

    [Fact]
    public void AddCostAwareBatching_InvalidOptions_FailValidationNamingTheOption()
    {
        using ServiceProvider services = new ServiceCollection().AddCostAwareBatching(o =>
        {
            o.PollInterval = TimeSpan.FromMinutes(5);
            o.MaxPollInterval = TimeSpan.FromMinutes(1);
            o.MaxBatchRequests = 0;
        }).BuildServiceProvider();

        OptionsValidationException ex = Assert.Throws<OptionsValidationException>(() => services.GetRequiredService<IOptions<BatchDeferralOptions>>().Value);
        Assert.Contains("Batching:MaxPollInterval (00:01:00) must not be shorter than Batching:PollInterval (00:05:00).", ex.Failures);
        Assert.Contains(ex.Failures, f => f.Contains("MaxBatchRequests", StringComparison.Ordinal));
    }

    [Fact]
    public void UseBatchDeferral_WithoutAddCostAwareBatching_SaysWhatIsMissing()
    {
        ServiceCollection services = new();
        _ = services.AddChatClient(new ChatClientBuilder(new NullClient()).Build()).UseBatchDeferral();
        using ServiceProvider provider = services.BuildServiceProvider();

        InvalidOperationException ex = Assert.Throws<InvalidOperationException>(() => provider.GetRequiredService<IChatClient>());
        Assert.Contains("AddCostAwareBatching", ex.Message, StringComparison.Ordinal);
    }

    // The budget stage's Defer action marks a call that does not fit at synchronous prices; the batch stage sends it
    // at the discount, and the budget settles to the batch price on the receipt.
    [Fact]
    public async Task UseBudgetDefer_ThenUseBatchDeferral_CallGoesToTheBatchAndSettlesAtBatchPrice()
    {
        FakeTimeProvider time = new(new DateTimeOffset(2026, 11, 24, 2, 0, 0, TimeSpan.Zero));
        ServiceCollection services = new();
        _ = services.AddSingleton<TimeProvider>(time);
        _ = services.AddCostAware(o => o.Budget.Budgets["tenant-daily"] = new BudgetDefinition
        {
            Per = [CostScopeDimension.Tenant],
            Limit = 0.0002m,
            Action = BudgetAction.Defer,
        });
        OpenAIClient openai = new(new ApiKeyCredential("sk-test"), new OpenAIClientOptions { Endpoint = _server.Endpoint });
        _ = services.AddCostAwareBatching(o =>
        {
            o.QueuePath = _path;
            o.MaxWaitAlone = TimeSpan.Zero;
        }).AddCostAwareOpenAIBatches(openai);
        _ = services.AddChatClient(new NullClient()).UseBudget().UseBatchDeferral().UseTokenMetering();
        await using ServiceProvider provider = services.BuildServiceProvider();
        IChatClient chat = provider.GetRequiredService<IChatClient>();
        CostAware.Batching.Internal.DeferralCoordinator coordinator = provider.GetRequiredService<CostAware.Batching.Internal.DeferralCoordinator>();
        CostScope acme = new() { Tenant = "acme" };

        // 500 output tokens at $0.60 per million ($0.0003) does not fit $0.0002; at the batch price ($0.00015) it does.
        Task<ChatResponse> call = chat.GetResponseAsync("Summarise the night.", new ChatOptions { ModelId = "gpt-4o-mini", MaxOutputTokens = 500 }.WithCostScope(acme));
        for (int i = 0; i < 200 && _server.Batches.IsEmpty; i++)
        {
            await coordinator.RunOnceAsync(CancellationToken.None);
            await Task.Delay(TimeSpan.FromMilliseconds(5), TimeProvider.System);
        }

        _server.CompleteAll(Assert.Single(_server.Batches.Keys), _ => "done", inputTokens: 100, outputTokens: 400);
        for (int i = 0; i < 200 && !call.IsCompleted; i++)
        {
            time.Advance(TimeSpan.FromMinutes(1));
            await coordinator.RunOnceAsync(CancellationToken.None);
            await Task.Delay(TimeSpan.FromMilliseconds(5), TimeProvider.System);
        }

        ChatResponse response = await call;
        Assert.Equal("done", response.Text);

        // 100 x $0.075 + 400 x $0.30 per million = $0.0001275.
        Assert.Equal(0.0001275m, response.GetCostReceipt()!.Spent);
        BudgetStatus status = Assert.Single(await chat.GetService<BudgetChatClient>()!.GetStatusAsync(acme));
        Assert.Equal(0.0001275m, status.Spent);
        Assert.Equal(0m, status.Reserved);
        Assert.Single(await provider.GetRequiredService<ICostLedger>().QueryAsync(CostLedgerQuery.All).ToListAsync());
    }

    [Fact]
    public async Task TheDeferralHealthCheck_IsHealthyUntilAQueuedCallWaitsLongerThanTheOptionsAllow()
    {
        FakeTimeProvider time = new(new DateTimeOffset(2026, 11, 24, 2, 0, 0, TimeSpan.Zero));
        ServiceCollection services = new();
        _ = services.AddSingleton<TimeProvider>(time);
        _ = services.AddCostAware(_ => { });
        OpenAIClient openai = new(new ApiKeyCredential("sk-test"), new OpenAIClientOptions { Endpoint = _server.Endpoint });
        _ = services.AddCostAwareBatching(o =>
        {
            o.QueuePath = _path;
            o.MaxWaitAlone = TimeSpan.FromHours(1);
        }).AddCostAwareOpenAIBatches(openai);
        _ = services.AddChatClient(new NullClient()).UseBatchDeferral().UseTokenMetering();
        await using ServiceProvider provider = services.BuildServiceProvider();
        IChatClient chat = provider.GetRequiredService<IChatClient>();
        CostAwareDeferralHealthCheck check = ActivatorUtilities.CreateInstance<CostAwareDeferralHealthCheck>(provider);
        Microsoft.Extensions.Diagnostics.HealthChecks.HealthCheckContext context = new()
        {
            Registration = new("costaware-deferrals", check, Microsoft.Extensions.Diagnostics.HealthChecks.HealthStatus.Unhealthy, null),
        };

        Assert.Equal(Microsoft.Extensions.Diagnostics.HealthChecks.HealthStatus.Healthy, (await check.CheckHealthAsync(context)).Status);

        // One call queued as a ticket (the caller does not wait); no scheduler runs in this test.
        _ = await chat.GetResponseAsync("Summarise the night.", new ChatOptions { ModelId = "gpt-4o-mini", MaxOutputTokens = 100 }
            .WithDeferral(new Deferral { Delivery = DeferralDelivery.Ticket }));
        Assert.Equal(Microsoft.Extensions.Diagnostics.HealthChecks.HealthStatus.Healthy, (await check.CheckHealthAsync(context)).Status);

        time.Advance(TimeSpan.FromHours(2));
        Microsoft.Extensions.Diagnostics.HealthChecks.HealthCheckResult stuck = await check.CheckHealthAsync(context);
        Assert.Equal(Microsoft.Extensions.Diagnostics.HealthChecks.HealthStatus.Unhealthy, stuck.Status);
        Assert.Contains("not submitting", stuck.Description, StringComparison.Ordinal);
        Assert.Equal(1, stuck.Data["queued"]);
    }

    private sealed class NullClient : IChatClient
    {
        public Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default) =>
            throw new InvalidOperationException("The call should have been deferred.");

        public IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default) =>
            throw new InvalidOperationException("The call should have been deferred.");

        public object? GetService(Type serviceType, object? serviceKey = null) => null;

        public void Dispose()
        {
        }
    }
}

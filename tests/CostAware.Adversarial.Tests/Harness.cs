using Microsoft.Extensions.AI;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace CostAware.Adversarial.Tests;

// One app as a user builds it from the README: AddCostAware from configuration, a pipeline of CostAware stages around
// a provider, and a way to read what the budgets, the ledger and the provider each say was spent.
internal sealed class Harness : IAsyncDisposable
{
    private readonly ServiceProvider _services;

    private Harness(ServiceProvider services, IChatClient client, BillingProvider provider)
    {
        _services = services;
        Client = client;
        Provider = provider;
    }

    public IChatClient Client { get; }

    public BillingProvider Provider { get; }

    public ICostLedger Ledger => _services.GetRequiredService<ICostLedger>();

    public BudgetChatClient Budget => Client.GetService<BudgetChatClient>()!;

    public IServiceProvider Services => _services;

    // settings: configuration keys under CostAware (e.g. "Budget:Budgets:tenant:Limit" = "1.00").
    public static Harness Create(
        IDictionary<string, string?> settings,
        Action<ChatClientBuilder> stages,
        BillingProvider? provider = null,
        Action<IServiceCollection, IConfiguration>? services = null)
    {
        IConfiguration configuration = new ConfigurationBuilder().AddInMemoryCollection(
            settings.Select(static s => new KeyValuePair<string, string?>("CostAware:" + s.Key, s.Value))).Build();
        ServiceCollection collection = new();
        collection.AddCostAware(configuration.GetSection("CostAware"));
        services?.Invoke(collection, configuration);
        ServiceProvider built = collection.BuildServiceProvider();
        provider ??= new BillingProvider();
        ChatClientBuilder builder = new(provider);
        stages(builder);
        return new Harness(built, builder.Build(built), provider);
    }

    // A per-tenant daily budget in the catalog's currency.
    public static Dictionary<string, string?> TenantBudget(decimal limit, string name = "tenant-daily") => new()
    {
        [$"Budget:Budgets:{name}:Per:0"] = "Tenant",
        [$"Budget:Budgets:{name}:Window"] = "Day",
        [$"Budget:Budgets:{name}:Limit"] = limit.ToString(System.Globalization.CultureInfo.InvariantCulture),
    };

    public static ChatOptions For(string tenant, int? maxOutput = 200) =>
        new ChatOptions { ModelId = BillingProvider.Model, MaxOutputTokens = maxOutput }.WithCostScope(new CostScope { Tenant = tenant });

    // Waits until nothing is reserved in the tenant's budgets (every call settled, deferred settlements included).
    public async Task<BudgetStatus> SettledAsync(string tenant, TimeSpan? timeout = null)
    {
        using CancellationTokenSource cts = new(timeout ?? TimeSpan.FromSeconds(30));
        while (true)
        {
            BudgetStatus status = Assert.Single(await Budget.GetStatusAsync(new CostScope { Tenant = tenant }, cts.Token));
            if (status.Reserved == 0m)
            {
                return status;
            }

            await Task.Delay(TimeSpan.FromMilliseconds(20), TimeProvider.System, cts.Token);
        }
    }

    public async Task<decimal> LedgerSpentAsync(string? tenant = null)
    {
        decimal total = 0m;
        await foreach (CostLedgerRecord record in Ledger.QueryAsync(CostLedgerQuery.All))
        {
            if (tenant is null || record.Scope.Tenant == tenant)
            {
                total += record.Entry.Cost?.Total ?? 0m;
            }
        }

        return total;
    }

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        await _services.DisposeAsync();
    }
}

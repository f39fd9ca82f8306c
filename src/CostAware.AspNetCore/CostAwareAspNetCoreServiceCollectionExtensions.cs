using CostAware;
using CostAware.AspNetCore.Internal;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers CostAware's ASP.NET Core services.</summary>
public static class CostAwareAspNetCoreServiceCollectionExtensions
{
    /// <summary>
    /// Registers the <see cref="CostAwareExceptionHandler"/> (budget refusals as 429 ProblemDetails with <c>Retry-After</c>;
    /// call <c>app.UseExceptionHandler()</c>), ProblemDetails, and a warm-up at start (tokenizers, price catalog, the
    /// registered embedding generator) so that the first request is not slow. Call it after <c>AddCostAware</c>.
    /// </summary>
    /// <param name="services">The services.</param>
    /// <returns>The services.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="services"/> is <see langword="null"/>.</exception>
    public static IServiceCollection AddCostAwareAspNetCore(this IServiceCollection services)
    {
        ArgumentNullException.ThrowIfNull(services);
        _ = services.AddProblemDetails();
        _ = services.AddExceptionHandler<CostAwareExceptionHandler>();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<Hosting.IHostedService, CostAwareWarmUp>());
        return services;
    }

    /// <summary>
    /// Adds health checks for CostAware: the budget store answers (<c>costaware-budget-store</c>, tagged <c>costaware</c>
    /// and <c>ready</c>), the price catalog's newest price is not older than <paramref name="maxCatalogAge"/>
    /// (<c>costaware-price-catalog</c>, degraded when it is), and the durable ledger (<c>costaware-ledger</c>, SQLite or
    /// PostgreSQL: its database answers, it dropped nothing since the last check; degraded while its writes fail or its
    /// buffer is over 80 % full). Redis and the deferral backlog have checks of their own in their packages.
    /// </summary>
    /// <param name="builder">The health checks builder.</param>
    /// <param name="maxCatalogAge">The oldest the newest price may be; 180 days when <see langword="null"/>.</param>
    /// <returns>The builder.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="builder"/> is <see langword="null"/>.</exception>
    public static IHealthChecksBuilder AddCostAwareChecks(this IHealthChecksBuilder builder, TimeSpan? maxCatalogAge = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        TimeSpan age = maxCatalogAge ?? TimeSpan.FromDays(180);

        // One instance for the app: it remembers how many receipts were dropped at the last check.
        builder.Services.TryAddSingleton<LedgerHealthCheck>();
        return builder
            .Add(new HealthCheckRegistration(
                "costaware-budget-store",
#pragma warning disable CAEXP001 // The budget store is CostAware's own extension point.
                services => new BudgetStoreHealthCheck(services.GetRequiredService<IBudgetStore>(), services.GetService<TimeProvider>() ?? TimeProvider.System),
#pragma warning restore CAEXP001
                HealthStatus.Unhealthy,
                ["costaware", "ready"]))
            .Add(new HealthCheckRegistration(
                "costaware-price-catalog",
                services => new PriceCatalogHealthCheck(services.GetService<IPriceCatalog>() ?? PriceCatalog.BuiltIn, services.GetService<TimeProvider>() ?? TimeProvider.System, age),
                HealthStatus.Degraded,
                ["costaware"]))
            .Add(new HealthCheckRegistration(
                "costaware-ledger",
                static services => services.GetRequiredService<LedgerHealthCheck>(),
                HealthStatus.Unhealthy,
                ["costaware"]));
    }
}

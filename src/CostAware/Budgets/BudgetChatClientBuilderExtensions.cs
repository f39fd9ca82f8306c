using CostAware.Internal;
using CostAware;
using CostAware.Shared;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Microsoft.Extensions.AI;

/// <summary>Adds the <see cref="BudgetChatClient"/> stage to a chat client pipeline.</summary>
public static class BudgetChatClientBuilderExtensions
{
    /// <summary>
    /// Adds budget guards: every call reserves its worst-case cost in the budgets that apply to its scope before it is
    /// made, and settles to its real cost after. Put it outermost.
    /// </summary>
    /// <param name="builder">The pipeline builder.</param>
    /// <param name="configure">Changes to the options bound from <c>CostAware:Budget</c> (or to the defaults without <c>AddCostAware</c>).</param>
    /// <returns><paramref name="builder"/>, for chaining.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="builder"/> is <see langword="null"/>.</exception>
    /// <remarks>
    /// Services come from the pipeline's service provider when it has them: the price catalog, token estimator, ledger,
    /// clock and loggers registered by <c>AddCostAware</c>, and the budget store (this process's memory, or Redis after
    /// <c>AddCostAwareRedis</c>). With <c>AddCostAware</c>, budgets follow configuration reloads. Without it and without
    /// budgets, the stage would do nothing and is not added.
    /// </remarks>
    public static ChatClientBuilder UseBudget(this ChatClientBuilder builder, Action<BudgetOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        return builder.Use((inner, services) =>
        {
            IOptionsMonitor<CostAwareOptions>? monitor = services.GetService<IOptionsMonitor<CostAwareOptions>>();
            BudgetOptions options = monitor?.CurrentValue.Budget.Clone() ?? new BudgetOptions();
            configure?.Invoke(options);
            if (monitor is null && options.Budgets.Count == 0)
            {
                return inner;
            }

            ILoggerFactory? loggerFactory = services.GetService<ILoggerFactory>();
            BudgetChatClient client = new(
                inner,
                options,
                services.GetService<IPriceCatalog>(),
                services.GetService<ITokenEstimator>(),
                services.GetService<ICostLedger>(),
                services.GetService<TimeProvider>(),
                loggerFactory,
                services.GetService<IBudgetStore>(),
                services.GetService<CostAwareMetrics>());
            if (monitor is not null)
            {
                // A reload that does not validate keeps the budgets in force; the options system reports why.
                _ = monitor.OnChange(changed =>
                {
                    BudgetOptions next = changed.Budget.Clone();
                    configure?.Invoke(next);
                    try
                    {
                        client.Reconfigure(next);
                    }
                    catch (OptionsValidationException ex)
                    {
                        Log.BudgetReconfigureFailed((loggerFactory ?? Microsoft.Extensions.Logging.Abstractions.NullLoggerFactory.Instance).CreateLogger<BudgetChatClient>(), ex);
                    }
                });
            }

            return client;
        });
    }
}

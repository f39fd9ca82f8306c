using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace CostAware.Ledger.Internal;

// How a durable ledger package registers its ledger: options bound strictly and checked at registration, one
// singleton the container disposes on shutdown (writing what is buffered), serving as the app's ICostLedger and
// IBufferedCostLedger (AddCostAware answers ICostLedgerAggregates from the ICostLedger).
internal static class LedgerRegistration
{
    public static TOptions Bind<TOptions>(IConfiguration configuration)
        where TOptions : BufferedCostLedgerOptions, new()
    {
        TOptions options = new();
        configuration.Bind(options, static o => o.ErrorOnUnknownConfiguration = true);
        return options;
    }

    public static IServiceCollection Register<TOptions, TLedger>(
        IServiceCollection services, TOptions options, IEnumerable<string> problems, Func<IServiceProvider, TOptions, TLedger> create)
        where TOptions : BufferedCostLedgerOptions
        where TLedger : class, IBufferedCostLedger
    {
        List<string> failures = [.. problems];
        if (options.Capacity < 1)
        {
            failures.Add($"{typeof(TOptions).Name}.Capacity must be at least 1 (it is {options.Capacity}).");
        }

        if (options.BatchSize < 1)
        {
            failures.Add($"{typeof(TOptions).Name}.BatchSize must be at least 1 (it is {options.BatchSize}).");
        }

        if (options.FullWait < TimeSpan.Zero)
        {
            failures.Add($"{typeof(TOptions).Name}.FullWait must be zero or more (it is {options.FullWait}).");
        }

        if (options.DisposeTimeout < TimeSpan.Zero)
        {
            failures.Add($"{typeof(TOptions).Name}.DisposeTimeout must be zero or more (it is {options.DisposeTimeout}).");
        }

        if (failures.Count > 0)
        {
            throw new OptionsValidationException(typeof(TOptions).Name, typeof(TOptions), failures);
        }

        services.TryAddSingleton(sp =>
        {
            options.MeterFactory ??= sp.GetService<System.Diagnostics.Metrics.IMeterFactory>();
            options.TimeProvider ??= sp.GetService<TimeProvider>();
            return create(sp, options);
        });
        services.Replace(ServiceDescriptor.Singleton<ICostLedger>(static sp => sp.GetRequiredService<TLedger>()));
        services.Replace(ServiceDescriptor.Singleton<IBufferedCostLedger>(static sp => sp.GetRequiredService<TLedger>()));
        return services;
    }
}

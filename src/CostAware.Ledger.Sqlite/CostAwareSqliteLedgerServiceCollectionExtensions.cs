using CostAware;
using CostAware.Ledger.Internal;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers the SQLite cost ledger.</summary>
public static class CostAwareSqliteLedgerServiceCollectionExtensions
{
    /// <summary>
    /// Uses a <see cref="SqliteCostLedger"/> as the app's <see cref="ICostLedger"/> (and <see cref="IBufferedCostLedger"/>),
    /// with options from configuration. The container disposes it on shutdown, writing what is buffered.
    /// </summary>
    /// <param name="services">The service collection.</param>
    /// <param name="section">The section, usually <c>CostAware:Ledger:Sqlite</c> (<c>Path</c>, <c>Capacity</c>, <c>BatchSize</c>, <c>FullWait</c>).</param>
    /// <returns><paramref name="services"/>, for chaining.</returns>
    /// <exception cref="ArgumentNullException">An argument is <see langword="null"/>.</exception>
    /// <exception cref="InvalidOperationException">The section has a key the options do not.</exception>
    /// <exception cref="OptionsValidationException">The options are not valid.</exception>
    public static IServiceCollection AddCostAwareSqliteLedger(this IServiceCollection services, IConfiguration section)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(section);
        return AddCostAwareSqliteLedger(services, LedgerRegistration.Bind<SqliteCostLedgerOptions>(section));
    }

    /// <summary>Uses a <see cref="SqliteCostLedger"/> with options set in code.</summary>
    /// <param name="services">The service collection.</param>
    /// <param name="options">The options.</param>
    /// <returns><paramref name="services"/>, for chaining.</returns>
    /// <exception cref="ArgumentNullException">An argument is <see langword="null"/>.</exception>
    /// <exception cref="OptionsValidationException">The options are not valid.</exception>
    public static IServiceCollection AddCostAwareSqliteLedger(this IServiceCollection services, SqliteCostLedgerOptions options)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(options);
        string[] problems = string.IsNullOrWhiteSpace(options.Path) ? ["SqliteCostLedgerOptions.Path is required."] : [];
        return LedgerRegistration.Register(services, options, problems, static (sp, o) => new SqliteCostLedger(o, sp.GetService<ILoggerFactory>()));
    }
}

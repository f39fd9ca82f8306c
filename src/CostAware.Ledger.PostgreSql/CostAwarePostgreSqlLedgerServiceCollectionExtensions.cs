using CostAware;
using CostAware.Ledger.Internal;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers the PostgreSQL cost ledger.</summary>
public static class CostAwarePostgreSqlLedgerServiceCollectionExtensions
{
    /// <summary>
    /// Uses a <see cref="PostgreSqlCostLedger"/> as the app's <see cref="ICostLedger"/> (and <see cref="IBufferedCostLedger"/>),
    /// with options from configuration. The container disposes it on shutdown, writing what is buffered. An
    /// <see cref="NpgsqlDataSource"/> the app registered is used instead of the connection string.
    /// </summary>
    /// <param name="services">The service collection.</param>
    /// <param name="section">The section, usually <c>CostAware:Ledger:PostgreSql</c> (<c>ConnectionString</c>, <c>Schema</c>, <c>Capacity</c>, <c>BatchSize</c>, <c>FullWait</c>).</param>
    /// <returns><paramref name="services"/>, for chaining.</returns>
    /// <exception cref="ArgumentNullException">An argument is <see langword="null"/>.</exception>
    /// <exception cref="InvalidOperationException">The section has a key the options do not.</exception>
    /// <exception cref="OptionsValidationException">The options are not valid.</exception>
    public static IServiceCollection AddCostAwarePostgreSqlLedger(this IServiceCollection services, IConfiguration section)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(section);
        return AddCostAwarePostgreSqlLedger(services, LedgerRegistration.Bind<PostgreSqlCostLedgerOptions>(section));
    }

    /// <summary>Uses a <see cref="PostgreSqlCostLedger"/> with options set in code.</summary>
    /// <param name="services">The service collection.</param>
    /// <param name="options">The options.</param>
    /// <returns><paramref name="services"/>, for chaining.</returns>
    /// <exception cref="ArgumentNullException">An argument is <see langword="null"/>.</exception>
    /// <exception cref="OptionsValidationException">The options are not valid.</exception>
    public static IServiceCollection AddCostAwarePostgreSqlLedger(this IServiceCollection services, PostgreSqlCostLedgerOptions options)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(options);
        bool hasDataSource = services.Any(static d => d.ServiceType == typeof(NpgsqlDataSource));
        string[] problems = string.IsNullOrWhiteSpace(options.ConnectionString) && !hasDataSource
            ? ["PostgreSqlCostLedgerOptions.ConnectionString is required (or register an NpgsqlDataSource)."]
            : [];
        return LedgerRegistration.Register(services, options, problems, static (sp, o) =>
            new PostgreSqlCostLedger(o, sp.GetService<ILoggerFactory>(), sp.GetService<NpgsqlDataSource>()));
    }
}

using CostAware;
using CostAware.AspNetCore.Internal;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Microsoft.AspNetCore.Builder;

/// <summary>Adds CostAware's request pipeline pieces to an ASP.NET Core app.</summary>
public static class CostAwareApplicationBuilderExtensions
{
    /// <summary>
    /// Makes each request's <see cref="CostScope"/> the ambient scope for everything the request does (every CostAware
    /// stage reads it), read as <see cref="CostScopeFromRequestOptions"/> says. Put it after authentication and
    /// authorization (claims) and after routing (route values).
    /// </summary>
    /// <param name="app">The application.</param>
    /// <param name="configure">Where the scope comes from.</param>
    /// <returns>The application.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="app"/> or <paramref name="configure"/> is <see langword="null"/>.</exception>
    public static IApplicationBuilder UseCostAwareScope(this IApplicationBuilder app, Action<CostScopeFromRequestOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(app);
        ArgumentNullException.ThrowIfNull(configure);
        CostScopeFromRequestOptions options = new();
        configure(options);
        if (options.MaxValueLength < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(configure), options.MaxValueLength, "MaxValueLength must be at least 1.");
        }

        ILogger logger = app.ApplicationServices.GetService<ILoggerFactory>()?.CreateLogger("CostAware.AspNetCore") ?? Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance;
        return app.Use(async (context, next) =>
        {
            CostScope? scope = RequestScope.Read(context, options, logger);
            if (scope is null)
            {
                await next(context);
                return;
            }

            using IDisposable ambient = AmbientCostScope.Begin(scope);
            await next(context);
        });
    }
}

using CostAware;
using CostAware.AspNetCore.Internal;
using Microsoft.AspNetCore.Http;
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

    /// <summary>
    /// Tells the client what its request cost: <c>CostAware-Spent</c> and <c>CostAware-Avoided</c> (US dollars, invariant
    /// decimal), <c>CostAware-Receipts</c>, and <c>CostAware-Priced: false</c> when a receipt was not fully priced — the
    /// sums of every receipt CostAware recorded while the request ran (<see cref="CostTally"/>). Off unless called.
    /// </summary>
    /// <param name="app">The application.</param>
    /// <returns>The application.</returns>
    /// <remarks>
    /// Headers carry what was recorded before the response started, so they are whole for a response written after its
    /// model calls (the usual JSON endpoint). A streamed response starts first: where the protocol allows trailers
    /// (HTTP/2 and HTTP/3), the final sums are sent as trailers of the same names. Costs are the app's business
    /// information: add this only where its clients may see them.
    /// </remarks>
    /// <exception cref="ArgumentNullException"><paramref name="app"/> is <see langword="null"/>.</exception>
    public static IApplicationBuilder UseCostAwareCostHeaders(this IApplicationBuilder app)
    {
        ArgumentNullException.ThrowIfNull(app);
        return app.Use(async (context, next) =>
        {
            using CostTally.TallyScope scope = CostTally.Begin();
            CostTally tally = scope.Tally;
            HttpResponse response = context.Response;
            response.OnStarting(() =>
            {
                CostHeaders.Write(tally, response.Headers.Append);
                return Task.CompletedTask;
            });
            bool trailers = response.SupportsTrailers();
            if (trailers)
            {
                CostHeaders.Declare(response);
            }

            await next(context);
            if (trailers)
            {
                CostHeaders.Write(tally, response.AppendTrailer);
            }
        });
    }
}

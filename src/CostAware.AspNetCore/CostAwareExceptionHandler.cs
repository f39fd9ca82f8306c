using System.Globalization;
using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;

namespace CostAware;

/// <summary>
/// Turns CostAware's refusals into HTTP answers a client can act on: a budget with no room (<see cref="BudgetExceededException"/>)
/// becomes 429 Too Many Requests with <c>Retry-After</c> from the budget window's reset, an unreachable budget store
/// (<see cref="BudgetStoreUnavailableException"/>) 503 Service Unavailable; both as ProblemDetails. Other exceptions are
/// left to the app's other handlers. Registered by <c>AddCostAwareAspNetCore()</c>; needs <c>app.UseExceptionHandler()</c>.
/// </summary>
public sealed class CostAwareExceptionHandler(IProblemDetailsService problemDetails, TimeProvider? timeProvider = null) : IExceptionHandler
{
    private readonly TimeProvider _timeProvider = timeProvider ?? TimeProvider.System;

    /// <inheritdoc />
    public async ValueTask<bool> TryHandleAsync(HttpContext httpContext, Exception exception, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(httpContext);
        ProblemDetails problem;
        switch (exception)
        {
            case BudgetExceededException refused:
                httpContext.Response.StatusCode = StatusCodes.Status429TooManyRequests;
                problem = new ProblemDetails
                {
                    Status = StatusCodes.Status429TooManyRequests,
                    Title = "Budget exceeded",
                    Type = "urn:costaware:problem:budget-exceeded",
                    Detail = refused.ResetsAt is { } resets
                        ? string.Create(CultureInfo.InvariantCulture, $"Budget '{refused.BudgetName}' has no room for this request until {resets:O}.")
                        : $"Budget '{refused.BudgetName}' has no room for this request.",
                };
                problem.Extensions["budget"] = refused.BudgetName;
                if (refused.ResetsAt is { } reset)
                {
                    problem.Extensions["resetsAt"] = reset;
                    double seconds = Math.Ceiling((reset - _timeProvider.GetUtcNow()).TotalSeconds);
                    httpContext.Response.Headers.RetryAfter = Math.Max(1, seconds).ToString("0", CultureInfo.InvariantCulture);
                }

                break;
            case BudgetStoreUnavailableException:
                httpContext.Response.StatusCode = StatusCodes.Status503ServiceUnavailable;
                httpContext.Response.Headers.RetryAfter = "5";
                problem = new ProblemDetails
                {
                    Status = StatusCodes.Status503ServiceUnavailable,
                    Title = "Budget store unavailable",
                    Type = "urn:costaware:problem:budget-store-unavailable",
                    Detail = "Spending cannot be checked right now; try again shortly.",
                };
                break;
            default:
                return false;
        }

        return await problemDetails.TryWriteAsync(new ProblemDetailsContext { HttpContext = httpContext, ProblemDetails = problem, Exception = exception });
    }
}

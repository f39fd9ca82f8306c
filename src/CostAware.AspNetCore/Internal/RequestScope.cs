using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace CostAware.AspNetCore.Internal;

// A request's cost scope, read from its claims, route values and headers as the options map them.
internal static partial class RequestScope
{
    public static CostScope? Read(HttpContext context, CostScopeFromRequestOptions options, ILogger logger)
    {
        CostScope scope = new();
        scope = Apply(scope, options.Headers, name => context.Request.Headers.TryGetValue(name, out var values) && values.Count == 1 ? values[0] : null, options, logger);
        scope = Apply(scope, options.RouteValues, name => context.Request.RouteValues.TryGetValue(name, out object? value) ? Convert.ToString(value, System.Globalization.CultureInfo.InvariantCulture) : null, options, logger);
        scope = Apply(scope, options.Claims, type => context.User.FindFirst(type)?.Value, options, logger);
        CostScope? resolved = options.Resolve is { } resolve ? resolve(context, scope) : scope;
        return resolved is null || resolved == new CostScope() ? null : resolved;
    }

    private static CostScope Apply(
        CostScope scope, IDictionary<CostScopeDimension, string> map, Func<string, string?> read, CostScopeFromRequestOptions options, ILogger logger)
    {
        foreach ((CostScopeDimension dimension, string name) in map)
        {
            string? value = read(name);
            if (string.IsNullOrEmpty(value))
            {
                continue;
            }

            if (value.Length > options.MaxValueLength)
            {
                ValueTooLong(logger, dimension, name, value.Length, options.MaxValueLength);
                continue;
            }

            scope = dimension switch
            {
                CostScopeDimension.Tenant => scope with { Tenant = value },
                CostScopeDimension.User => scope with { User = value },
                CostScopeDimension.ApiKey => scope with { ApiKey = value },
                CostScopeDimension.Agent => scope with { Agent = value },
                CostScopeDimension.Workflow => scope with { Workflow = value },
                CostScopeDimension.Feature => scope with { Feature = value },
                _ => scope,
            };
        }

        return scope;
    }

    [LoggerMessage(100, LogLevel.Warning, "The request's {Dimension} from '{Source}' is {Length} characters long (the most is {Max}); it was ignored.")]
    private static partial void ValueTooLong(ILogger logger, CostScopeDimension dimension, string source, int length, int max);
}

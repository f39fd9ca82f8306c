using System.Globalization;
using CostAware;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;

namespace Microsoft.AspNetCore.Builder;

/// <summary>Maps CostAware's read-only endpoints: spend from the ledger and budget status.</summary>
public static class CostAwareEndpointRouteBuilderExtensions
{
    /// <summary>
    /// Maps <c>GET {prefix}/spend</c> (the ledger's aggregates) and <c>GET {prefix}/budgets</c> (the state of every budget
    /// that applies to a scope), both behind the authorization policy the app names: nothing is open by default.
    /// </summary>
    /// <param name="endpoints">The endpoint route builder.</param>
    /// <param name="authorizationPolicy">The policy a caller must meet (for example one that requires a finance role); required.</param>
    /// <param name="prefix">The route prefix; <c>/costaware</c> by default.</param>
    /// <returns>The route group, for more conventions (rate limiting, CORS, OpenAPI).</returns>
    /// <remarks>
    /// <para>
    /// <c>/spend</c> takes <c>groupBy</c> (tenant, user, apiKey, agent, workflow, feature), <c>byModel</c> (true/false),
    /// <c>bucket</c> (none, hour, day, month), <c>timeZone</c> (an IANA or Windows id), <c>from</c> and <c>to</c> (ISO 8601),
    /// <c>top</c>, and filters <c>tenant</c>, <c>user</c>, <c>apiKey</c>, <c>agent</c>, <c>workflow</c>, <c>feature</c>, <c>model</c>;
    /// it answers the rows of <see cref="ICostLedgerAggregates.AggregateAsync"/> (cache hits' tokens are
    /// <c>avoidedTokens</c>, never summed with spent ones).
    /// </para>
    /// <para>
    /// <c>/budgets</c> takes the scope (<c>tenant</c>, <c>user</c>, …) and answers <see cref="BudgetChatClient.GetStatusAsync"/>
    /// of the budget stage in the app's registered <see cref="IChatClient"/> (404 when it has none). A bad parameter is a
    /// 400 ProblemDetails that names it; a ledger database or budget store that cannot be read is a 503.
    /// </para>
    /// </remarks>
    /// <exception cref="ArgumentNullException"><paramref name="endpoints"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException"><paramref name="authorizationPolicy"/> or <paramref name="prefix"/> is empty.</exception>
    public static RouteGroupBuilder MapCostAwareEndpoints(this IEndpointRouteBuilder endpoints, string authorizationPolicy, string prefix = "/costaware")
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        ArgumentException.ThrowIfNullOrWhiteSpace(authorizationPolicy);
        ArgumentException.ThrowIfNullOrWhiteSpace(prefix);
        RouteGroupBuilder group = endpoints.MapGroup(prefix);
        _ = group.RequireAuthorization(authorizationPolicy);
        _ = group.MapGet("/spend", SpendAsync).WithName("CostAwareSpend");
        _ = group.MapGet("/budgets", BudgetsAsync).WithName("CostAwareBudgets");
        return group;
    }

    private static async Task<IResult> SpendAsync(HttpContext context, ICostLedgerAggregates ledger, CancellationToken cancellationToken)
    {
        IQueryCollection q = context.Request.Query;
        CostLedgerAggregateQuery query;
        try
        {
            query = new CostLedgerAggregateQuery
            {
                GroupBy = q.TryGetValue("groupBy", out var groupBy) ? Parse<CostScopeDimension>("groupBy", groupBy!) : null,
                ByModel = q.TryGetValue("byModel", out var byModel) && (bool.TryParse(byModel, out bool b) ? b : throw new BadParameter("byModel", "true or false")),
                Bucket = q.TryGetValue("bucket", out var bucket) ? Parse<CostLedgerBucket>("bucket", bucket!) : CostLedgerBucket.None,
                TimeZone = q.TryGetValue("timeZone", out var zone) ? Zone(zone!) : null,
                Top = q.TryGetValue("top", out var top) ? (int.TryParse(top, NumberStyles.None, CultureInfo.InvariantCulture, out int n) && n > 0 ? n : throw new BadParameter("top", "a positive whole number")) : null,
                Filter = new CostLedgerQuery
                {
                    Scope = Scope(q),
                    ModelId = q.TryGetValue("model", out var model) ? (string?)model : null,
                    From = q.TryGetValue("from", out var from) ? Moment("from", from!) : null,
                    To = q.TryGetValue("to", out var to) ? Moment("to", to!) : null,
                },
            };
        }
        catch (BadParameter bad)
        {
            return bad.Problem;
        }

        IReadOnlyList<CostLedgerAggregate> rows;
        try
        {
            rows = await ledger.AggregateAsync(query, cancellationToken);
        }
        catch (System.Data.Common.DbException)
        {
            // The ledger's database is down or locked: say so, as the budget store's outage is said.
            return Results.Problem(statusCode: StatusCodes.Status503ServiceUnavailable, title: "Ledger unavailable", detail: "The ledger's database cannot be read now.");
        }

        return Results.Ok(rows.Select(static r => new
        {
            key = r.Key,
            model = r.ModelId,
            bucketStart = r.BucketStart == DateTimeOffset.MinValue ? (DateTimeOffset?)null : r.BucketStart,
            spent = r.Spent,
            avoided = r.Avoided,
            providerCacheSaved = r.ProviderCacheSaved,
            calls = r.Calls,
            cacheHits = r.CacheHits,
            inputTokens = r.InputTokens,
            outputTokens = r.OutputTokens,
            avoidedTokens = r.AvoidedTokens,
        }));
    }

    private static async Task<IResult> BudgetsAsync(HttpContext context, IServiceProvider services, CancellationToken cancellationToken)
    {
        if (services.GetService<IChatClient>()?.GetService<BudgetChatClient>() is not { } budgets)
        {
            return Results.Problem(statusCode: StatusCodes.Status404NotFound, title: "No budget stage", detail: "The app's registered IChatClient has no budget stage (UseBudget).");
        }

        CostScope scope;
        try
        {
            scope = Scope(context.Request.Query) ?? throw new BadParameter("tenant", "a scope: at least one of tenant, user, apiKey, agent, workflow, feature");
        }
        catch (BadParameter bad)
        {
            return bad.Problem;
        }

        try
        {
            IReadOnlyList<BudgetStatus> statuses = await budgets.GetStatusAsync(scope, cancellationToken);
            return Results.Ok(statuses);
        }
        catch (BudgetStoreUnavailableException)
        {
            return Results.Problem(statusCode: StatusCodes.Status503ServiceUnavailable, title: "Budget store unavailable", detail: "The budget store cannot be read now.");
        }
    }

    private static CostScope? Scope(IQueryCollection q)
    {
        string? Value(string name) => q.TryGetValue(name, out var value) && !string.IsNullOrEmpty(value) ? (string?)value : null;
        CostScope scope = new()
        {
            Tenant = Value("tenant"), User = Value("user"), ApiKey = Value("apiKey"), Agent = Value("agent"), Workflow = Value("workflow"), Feature = Value("feature"),
        };
        return scope == CostScope.None ? null : scope;
    }

    private static T Parse<T>(string name, string value)
        where T : struct, Enum =>
        Enum.TryParse(value, ignoreCase: true, out T parsed) && Enum.IsDefined(parsed) && !int.TryParse(value, out _)
            ? parsed
            : throw new BadParameter(name, "one of " + string.Join(", ", Enum.GetNames<T>()).ToLowerInvariant());

    private static DateTimeOffset Moment(string name, string value) =>
        DateTimeOffset.TryParse(value, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out DateTimeOffset moment)
            ? moment
            : throw new BadParameter(name, "an ISO 8601 date and time");

    private static TimeZoneInfo Zone(string id)
    {
        try
        {
            return TimeZoneInfo.FindSystemTimeZoneById(id);
        }
        catch (Exception ex) when (ex is TimeZoneNotFoundException or InvalidTimeZoneException)
        {
            throw new BadParameter("timeZone", "a time zone id (for example Europe/Paris)");
        }
    }

    private sealed class BadParameter(string name, string expected) : Exception($"'{name}' must be {expected}.")
    {
        public IResult Problem { get; } = Results.Problem(
            statusCode: StatusCodes.Status400BadRequest,
            title: "Bad query parameter",
            detail: $"'{name}' must be {expected}.",
            extensions: new Dictionary<string, object?> { ["parameter"] = name });
    }
}

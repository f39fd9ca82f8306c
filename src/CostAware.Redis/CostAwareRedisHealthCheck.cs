using System.Globalization;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using StackExchange.Redis;

namespace CostAware;

/// <summary>
/// A health check that Redis answers a PING on the connection CostAware uses (budgets, the prompt cache's second level,
/// the semantic cache's store, the deferral queue); unhealthy (or the registration's failure status) when it does not.
/// </summary>
/// <remarks>
/// Register it with the app's health checks, for example
/// <c>services.AddHealthChecks().AddCheck&lt;CostAwareRedisHealthCheck&gt;("costaware-redis", tags: ["ready"])</c>.
/// </remarks>
/// <param name="connection">The connection <c>AddCostAwareRedis</c> registered.</param>
public sealed class CostAwareRedisHealthCheck(IConnectionMultiplexer connection) : IHealthCheck
{
    /// <inheritdoc />
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(context);
        try
        {
            TimeSpan latency = await connection.GetDatabase().PingAsync().WaitAsync(cancellationToken);
            return HealthCheckResult.Healthy(string.Create(CultureInfo.InvariantCulture, $"Redis answers in {latency.TotalMilliseconds:0.0} ms."));
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException)
        {
            return new HealthCheckResult(context.Registration.FailureStatus, "Redis does not answer: budgets and caches that use it are degraded or refusing.", ex);
        }
    }
}

using Microsoft.Extensions.Diagnostics.HealthChecks;
using StackExchange.Redis;

namespace CostAware.Redis.Tests;

[Collection(RedisTestGroup.Name)]
public sealed class RedisHealthCheckTests(RedisServerFixture redis)
{
    private static HealthCheckContext Context(IHealthCheck check) =>
        new() { Registration = new HealthCheckRegistration("costaware-redis", check, HealthStatus.Unhealthy, tags: null) };

    [Fact]
    public async Task ARunningRedis_IsHealthy()
    {
        CostAwareRedisHealthCheck check = new(redis.Connection);

        HealthCheckResult result = await check.CheckHealthAsync(Context(check));

        Assert.Equal(HealthStatus.Healthy, result.Status);
    }

    [Fact]
    public async Task ARedisThatDoesNotAnswer_IsUnhealthy()
    {
        // A port nothing listens on; the connection keeps trying in the background, and commands fail fast.
        await using ConnectionMultiplexer down = await ConnectionMultiplexer.ConnectAsync("127.0.0.1:1,abortConnect=false,connectTimeout=200,syncTimeout=200,asyncTimeout=200");
        CostAwareRedisHealthCheck check = new(down);

        HealthCheckResult result = await check.CheckHealthAsync(Context(check));

        Assert.Equal(HealthStatus.Unhealthy, result.Status);
        Assert.NotNull(result.Exception);
    }
}

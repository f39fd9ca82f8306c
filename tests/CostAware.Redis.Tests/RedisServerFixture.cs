using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using StackExchange.Redis;

namespace CostAware.Redis.Tests;

// A real redis-server on loopback. ./build.sh test starts one and exports COSTAWARE_TEST_REDIS; without it the
// fixture starts its own from PATH. Without either the tests fail (never skip): a cache that was never tested
// against Redis must not pass as tested.
public sealed class RedisServerFixture : IAsyncLifetime
{
    public const string EnvironmentVariable = "COSTAWARE_TEST_REDIS";

    private Process? _server;

    public string Configuration { get; private set; } = "";

    public IConnectionMultiplexer Connection { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        string? given = Environment.GetEnvironmentVariable(EnvironmentVariable);
        if (string.IsNullOrWhiteSpace(given))
        {
            int port = FreePort();
            try
            {
                _server = Process.Start(new ProcessStartInfo("redis-server", $"--port {port} --bind 127.0.0.1 --save \"\" --appendonly no")
                {
                    RedirectStandardOutput = true,
                    UseShellExecute = false,
                });
            }
            catch (System.ComponentModel.Win32Exception ex)
            {
                throw new InvalidOperationException(
                    $"These tests need a Redis server: run ./build.sh test (it installs and starts redis-server), or set {EnvironmentVariable} to host:port.", ex);
            }

            given = $"127.0.0.1:{port}";
        }

        Configuration = given;
        for (int attempt = 0; ; attempt++)
        {
            try
            {
                Connection = await ConnectionMultiplexer.ConnectAsync($"{Configuration},connectTimeout=1000,abortConnect=true");
                break;
            }
            catch (RedisConnectionException) when (attempt < 50)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(100), TimeProvider.System);
            }
        }
    }

    public async Task DisposeAsync()
    {
        if (Connection is not null)
        {
            await Connection.DisposeAsync();
        }

        if (_server is { HasExited: false })
        {
            _server.Kill();
            await _server.WaitForExitAsync();
        }

        _server?.Dispose();
    }

    private static int FreePort()
    {
        using TcpListener listener = new(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}

[CollectionDefinition(Name)]
public sealed class RedisTestGroup : ICollectionFixture<RedisServerFixture>
{
    public const string Name = "redis";
}

using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace CostAware.Adversarial.Tests;

// A redis-server this suite starts, kills by PID (SIGKILL, as an OOM killer or a crash would) and starts again on the
// same port and data directory. Persistence is the one docs/budgets.md asks of a budget store: an append-only file,
// fsynced on every write. Without redis-server on PATH the tests fail: ./build.sh test installs it.
internal sealed class RedisProcess : IAsyncDisposable
{
    private readonly string _directory;
    private readonly bool _persistent;
    private Process? _process;

    private RedisProcess(int port, string directory, bool persistent)
    {
        Port = port;
        _directory = directory;
        _persistent = persistent;
    }

    public int Port { get; }

    public int? Pid => _process is { HasExited: false } p ? p.Id : null;

    // Fails fast while the server is down, so that a test's outage costs seconds, not minutes.
    public string Configuration => $"127.0.0.1:{Port},connectTimeout=5000,syncTimeout=1000,asyncTimeout=1000,connectRetry=1";

    public static async Task<RedisProcess> StartAsync(bool persistent = true)
    {
        string directory = Path.Combine(Path.GetTempPath(), "costaware-redis-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(directory);
        RedisProcess redis = new(FreePort(), directory, persistent);
        await redis.RestartAsync();
        return redis;
    }

    public async Task RestartAsync()
    {
        string persistence = _persistent ? "--appendonly yes --appendfsync always" : "--appendonly no";
        ProcessStartInfo start = new("redis-server", $"--port {Port} --bind 127.0.0.1 --save \"\" {persistence} --dir {_directory}")
        {
            RedirectStandardOutput = true,
            UseShellExecute = false,
        };
        try
        {
            _process = Process.Start(start) ?? throw new InvalidOperationException("redis-server did not start.");
        }
        catch (System.ComponentModel.Win32Exception ex)
        {
            throw new InvalidOperationException("These tests need redis-server on PATH: run ./build.sh test, which installs it.", ex);
        }

        _process.OutputDataReceived += static (_, _) => { };
        _process.BeginOutputReadLine();
        for (int attempt = 0; attempt < 100; attempt++)
        {
            try
            {
                using TcpClient client = new();
                await client.ConnectAsync(IPAddress.Loopback, Port);
                return;
            }
            catch (SocketException)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(50), TimeProvider.System);
            }
        }

        throw new InvalidOperationException($"redis-server did not listen on port {Port}.");
    }

    // kill -9 by PID: no shutdown, no final fsync.
    public async Task KillAsync()
    {
        Process process = _process ?? throw new InvalidOperationException("Not running.");
        using Process kill = Process.Start("kill", $"-9 {process.Id}")!;
        await kill.WaitForExitAsync();
        await process.WaitForExitAsync();
        process.Dispose();
        _process = null;
    }

    public async ValueTask DisposeAsync()
    {
        if (_process is { HasExited: false })
        {
            _process.Kill();
            await _process.WaitForExitAsync();
        }

        _process?.Dispose();
        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    private static int FreePort()
    {
        using TcpListener listener = new(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}

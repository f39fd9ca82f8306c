using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace CostAware.Tests.TestUtilities;

// A provider stand-in over loopback HTTP: the official SDK sends its real request, the server checks the route and
// returns recorded provider JSON (or server-sent events) verbatim.
internal sealed class LoopbackProviderServer : IAsyncDisposable
{
    private readonly HttpListener _listener = new();
    private readonly Func<string, string, (string ContentType, string Body)> _respond;
    private readonly Task _loop;

    public LoopbackProviderServer(Func<string, string, (string ContentType, string Body)> respond)
    {
        _respond = respond;
        Port = FreePort();
        _listener.Prefixes.Add($"http://127.0.0.1:{Port}/");
        _listener.Start();
        _loop = Task.Run(LoopAsync);
    }

    public int Port { get; }

    public Uri BaseUri => new($"http://127.0.0.1:{Port}");

    public ConcurrentQueue<(string Path, string Body)> Requests { get; } = new();

    public async ValueTask DisposeAsync()
    {
        _listener.Stop();
        _listener.Close();
        try
        {
            await _loop;
        }
        catch (Exception ex) when (ex is HttpListenerException or ObjectDisposedException)
        {
        }
    }

    private async Task LoopAsync()
    {
        while (_listener.IsListening)
        {
            HttpListenerContext context;
            try
            {
                context = await _listener.GetContextAsync();
            }
            catch (Exception ex) when (ex is HttpListenerException or ObjectDisposedException or InvalidOperationException)
            {
                return;
            }

            using StreamReader reader = new(context.Request.InputStream, Encoding.UTF8);
            string body = await reader.ReadToEndAsync();
            string path = context.Request.Url!.AbsolutePath;
            Requests.Enqueue((path, body));
            (string contentType, string responseBody) = _respond(path, body);
            byte[] bytes = Encoding.UTF8.GetBytes(responseBody);
            context.Response.ContentType = contentType;
            context.Response.Headers.Add("request-id", "req_test");
            context.Response.Headers.Add("x-request-id", "req_test");
            await context.Response.OutputStream.WriteAsync(bytes);
            context.Response.Close();
        }
    }

    private static int FreePort()
    {
        using TcpListener probe = new(IPAddress.Loopback, 0);
        probe.Start();
        return ((IPEndPoint)probe.LocalEndpoint).Port;
    }
}

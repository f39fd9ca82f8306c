using System.Diagnostics;
using System.Globalization;

namespace CostAware.Batching.Tests;

// A real process accepts deferred calls, submits their batch, and is killed; the next process on the same queue file
// delivers every answer exactly once, bills each once, and never submits the calls again.
public sealed class CrashRecoveryTests : IAsyncLifetime
{
    private const int Calls = 5;
    private readonly string _queue = Path.Combine(Path.GetTempPath(), $"costaware-crash-{Guid.NewGuid():N}.db");
    private OpenAIBatchStandIn _server = null!;

    public async Task InitializeAsync() => _server = await OpenAIBatchStandIn.StartAsync();

    public async Task DisposeAsync()
    {
        await _server.DisposeAsync();
        SqliteFiles.Delete(_queue);
    }

    [Fact]
    public async Task KilledAfterSubmission_NextProcessDeliversEveryAnswerOnce_NothingSubmittedTwice()
    {
        using Process first = Start("submit");
        List<string> accepted = [];
        while (await first.StandardOutput.ReadLineAsync() is { } line && line != "waiting")
        {
            accepted.Add(line["accepted ".Length..]);
        }

        Assert.Equal(Calls, accepted.Count);
        for (int i = 0; i < 600 && _server.BatchCreates == 0; i++)
        {
            await Task.Delay(TimeSpan.FromMilliseconds(50), TimeProvider.System);
        }

        Assert.Equal(1, _server.BatchCreates);
        first.Kill(entireProcessTree: true);
        await first.WaitForExitAsync();

        string batchId = Assert.Single(_server.Batches.Keys);
        Assert.Equal(Calls, _server.InputLines(batchId).Count);
        _server.CompleteAll(batchId, q => "answer-to-" + q.Replace(' ', '-'), inputTokens: 1_000, outputTokens: 500);

        using Process second = Start("resume");
        string output = await second.StandardOutput.ReadToEndAsync();
        await second.WaitForExitAsync();
        Assert.True(second.ExitCode == 0, $"resume exited {second.ExitCode}: {await second.StandardError.ReadToEndAsync()}");

        string[] lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        string[][] results = [.. lines.Where(l => l.StartsWith("result ", StringComparison.Ordinal)).Select(l => l.Split(' '))];
        Assert.Equal(Calls, results.Length);
        Assert.Equal(accepted.Order(), results.Select(r => r[1]).Order());
        Assert.All(results, r => Assert.StartsWith("answer-to-question-", r[2], StringComparison.Ordinal));

        // gpt-4o-mini at batch prices: 1,000 x $0.075 + 500 x $0.30 per million.
        Assert.All(results, r => Assert.Equal(0.000225m, decimal.Parse(r[3], CultureInfo.InvariantCulture)));
        Assert.Equal($"billed {Calls}", lines[^1]);
        Assert.Equal(1, _server.BatchCreates);
    }

    private Process Start(string mode)
    {
        string worker = Path.Combine(
            AppContext.BaseDirectory.Replace("CostAware.Batching.Tests", "CostAware.Batching.Worker", StringComparison.Ordinal), "CostAware.Batching.Worker.dll");
        Assert.True(File.Exists(worker), $"the worker was not built: {worker}");
        ProcessStartInfo start = new("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string argument in (string[])[worker, mode, _queue, _server.Endpoint.ToString(), Calls.ToString(CultureInfo.InvariantCulture)])
        {
            start.ArgumentList.Add(argument);
        }

        return Process.Start(start)!;
    }
}

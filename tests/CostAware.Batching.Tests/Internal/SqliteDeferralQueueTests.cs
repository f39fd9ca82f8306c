using System.Text;
using CostAware.Batching.Internal;
using CostAware.Batching.OpenAI.Internal;
using CostAware.Batching.Anthropic.Internal;
using CostAware.Shared;

namespace CostAware.Batching.Tests.Internal;

public sealed class SqliteDeferralQueueTests : DeferralQueueContractTests, IDisposable
{
    private readonly string _path = Path.Combine(Path.GetTempPath(), $"costaware-queue-{Guid.NewGuid():N}.db");

    public void Dispose()
    {
        SqliteFiles.Delete(_path);
    }

    internal override async Task<IDeferralQueue> OpenAsync() => await SqliteDeferralQueue.OpenAsync(_path, CancellationToken.None);

    private static DeferredCall Call(string id) => new()
    {
        Id = id,
        Provider = "openai",
        Endpoint = "/v1/chat/completions",
        ModelId = "gpt-4o-mini",
        Body = Encoding.UTF8.GetBytes("{}"),
        CreatedAt = new DateTimeOffset(2026, 11, 24, 2, 0, 0, TimeSpan.Zero),
    };

    [Fact]
    public async Task FileDeletedWhileRunning_RestoredWithEveryAcceptedCall_NothingLostAfterRestart()
    {
        using (SqliteDeferralQueue queue = await SqliteDeferralQueue.OpenAsync(_path, CancellationToken.None))
        {
            foreach (string id in (string[])["a", "b", "c"])
            {
                await queue.EnqueueAsync(Call(id), CancellationToken.None);
            }

            SqliteFiles.Delete(_path);
            foreach (string id in (string[])["d", "e", "f"])
            {
                await queue.EnqueueAsync(Call(id), CancellationToken.None);
            }

            Assert.True(File.Exists(_path));
            Assert.Equal(1, queue.Restores);
        }

        using IDeferralQueue reopened = await OpenAsync();
        foreach (string id in (string[])["a", "b", "c", "d", "e", "f"])
        {
            Assert.Equal(DeferredCallState.Queued, (await reopened.GetAsync(id, CancellationToken.None))!.State);
        }
    }

    [Fact]
    public async Task CorruptFile_ErrorNamesThePath()
    {
        await File.WriteAllTextAsync(_path, "this is not a SQLite database, just text that is long enough to be read as a header");

        InvalidOperationException error = await Assert.ThrowsAsync<InvalidOperationException>(() => SqliteDeferralQueue.OpenAsync(_path, CancellationToken.None));

        Assert.Contains(_path, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ResolveQueuePath_RelativePath_TakenFromTheAppsFolderNotTheWorkingDirectory()
    {
        Assert.Equal(Path.Combine(AppContext.BaseDirectory, "costaware-deferred.db"), DeferralCoordinator.ResolveQueuePath("costaware-deferred.db"));
        Assert.Equal(_path, DeferralCoordinator.ResolveQueuePath(_path));
    }
}

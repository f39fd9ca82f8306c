using CostAware.Internal.Batching;

namespace CostAware.Batching.Tests.Internal;

public sealed class SqliteDeferralQueueTests : DeferralQueueContractTests, IDisposable
{
    private readonly string _path = Path.Combine(Path.GetTempPath(), $"costaware-queue-{Guid.NewGuid():N}.db");

    public void Dispose()
    {
        SqliteFiles.Delete(_path);
    }

    internal override async Task<IDeferralQueue> OpenAsync() => await SqliteDeferralQueue.OpenAsync(_path, CancellationToken.None);
}

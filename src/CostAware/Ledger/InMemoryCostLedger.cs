using System.Runtime.CompilerServices;

namespace CostAware;

/// <summary>
/// A cost ledger kept in process memory: the embedded default. Rows are kept oldest first up to a capacity, after
/// which the oldest are dropped and counted in <see cref="DroppedCount"/>.
/// </summary>
/// <remarks>Thread-safe: recording takes a short lock; queries read a snapshot.</remarks>
public sealed class InMemoryCostLedger : ICostLedger, ICostLedgerAggregates
{
    private readonly Lock _lock = new();
    private readonly Queue<CostLedgerRecord> _records = new();
    private long _dropped;

    /// <summary>Initializes a new instance of the <see cref="InMemoryCostLedger"/> class.</summary>
    /// <param name="capacity">The most rows kept.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="capacity"/> is not positive.</exception>
    public InMemoryCostLedger(int capacity = 1_000_000)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(capacity);
        Capacity = capacity;
    }

    /// <summary>Gets the most rows kept.</summary>
    public int Capacity { get; }

    /// <summary>Gets the number of rows kept now.</summary>
    public int Count
    {
        get
        {
            lock (_lock)
            {
                return _records.Count;
            }
        }
    }

    /// <summary>Gets the number of rows dropped because the ledger was full.</summary>
    public long DroppedCount => Interlocked.Read(ref _dropped);

    /// <inheritdoc />
    public ValueTask RecordAsync(CostReceipt receipt, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(receipt);
        cancellationToken.ThrowIfCancellationRequested();
        lock (_lock)
        {
            foreach (CostReceiptEntry entry in receipt.Entries)
            {
                if (_records.Count == Capacity)
                {
                    _ = _records.Dequeue();
                    _dropped++;
                }

                _records.Enqueue(new CostLedgerRecord(receipt.Id, receipt.Scope, entry));
            }
        }

        return ValueTask.CompletedTask;
    }

    /// <inheritdoc />
    public async IAsyncEnumerable<CostLedgerRecord> QueryAsync(CostLedgerQuery query, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(query);
        CostLedgerRecord[] snapshot;
        lock (_lock)
        {
            snapshot = [.. _records];
        }

        foreach (CostLedgerRecord record in snapshot)
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (query.Matches(record))
            {
                yield return record;
            }
        }

        await Task.CompletedTask.ConfigureAwait(false);
    }

    /// <inheritdoc />
    /// <remarks>Sums in memory, with <see cref="CostLedgerAggregation.AggregateAsync"/>.</remarks>
    public Task<IReadOnlyList<CostLedgerAggregate>> AggregateAsync(CostLedgerAggregateQuery query, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(query);
        return CostLedgerAggregation.AggregateAsync(QueryAsync(CostLedgerQuery.All, cancellationToken), query, cancellationToken);
    }
}

using System.Diagnostics.Metrics;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;

namespace CostAware.Ledger.Internal;

// A receipt as the writer stores it: a snapshot of its entries when it was recorded.
internal sealed record class LedgerReceipt(Guid ReceiptId, CostScope Scope, CostReceiptEntry[] Entries);

// What every database ledger does the same way: a bounded buffer on the request path, one background writer that
// stores batches through the ledger's own write, retries a failed batch (kept, never dropped) with a growing pause,
// drops (logged, counted, metered) only what finds the buffer full for longer than the wait, and flushes on demand and
// on disposal. Shared as source by the SQLite and PostgreSQL ledgers.
internal sealed partial class LedgerWriteBuffer : IAsyncDisposable
{
    private static readonly TimeSpan FirstPause = TimeSpan.FromMilliseconds(100);
    private static readonly TimeSpan LongestPause = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan QueryFlushWait = TimeSpan.FromSeconds(5);

    private readonly Func<List<LedgerReceipt>, CancellationToken, Task> _write;
    private readonly int _batchSize;
    private readonly TimeSpan _fullWait;
    private readonly TimeProvider _timeProvider;
    private readonly ILogger _logger;
    private readonly Channel<Item> _buffer;
    private readonly Meter _meter;
    private readonly Counter<long> _droppedCounter;
    private readonly Task _writer;
    private readonly TimeSpan _disposeTimeout;
    private CancellationTokenSource? _giveUp;
    private CancellationTokenSource _nudge = new();
    private long _dropped;
    private long _recorded;
    private long _written;
    private long _failingSinceTicks;
    private int _disposed;

    public LedgerWriteBuffer(Func<List<LedgerReceipt>, CancellationToken, Task> write, BufferedCostLedgerOptions options, ILogger logger)
    {
        _write = write;
        Capacity = options.Capacity;
        _batchSize = options.BatchSize;
        _fullWait = options.FullWait;
        _disposeTimeout = options.DisposeTimeout;
        _timeProvider = options.TimeProvider ?? TimeProvider.System;
        _logger = logger;
        _meter = options.MeterFactory?.Create("CostAware") ?? new Meter("CostAware");
        _droppedCounter = _meter.CreateCounter<long>("costaware.ledger.dropped", "{receipt}", "Receipts the ledger dropped because its buffer stayed full.");
        _ = _meter.CreateObservableGauge("costaware.ledger.buffered", () => Buffered, "{receipt}", "Receipts waiting in the ledger's buffer to be written.");
        _buffer = Channel.CreateBounded<Item>(new BoundedChannelOptions(options.Capacity) { SingleReader = true, FullMode = BoundedChannelFullMode.Wait });
        _writer = Task.Run(WriteLoopAsync);
    }

    public static void Validate(BufferedCostLedgerOptions options, string optionsName)
    {
        if (options.Capacity < 1 || options.BatchSize < 1 || options.FullWait < TimeSpan.Zero || options.DisposeTimeout < TimeSpan.Zero)
        {
            throw new ArgumentException($"{optionsName}: Capacity and BatchSize must be positive, FullWait and DisposeTimeout zero or more.");
        }
    }

    public int Capacity { get; }

    public long Dropped => Interlocked.Read(ref _dropped);

    public long Buffered => Interlocked.Read(ref _recorded) - Interlocked.Read(ref _written) - Interlocked.Read(ref _dropped);

    public DateTimeOffset? FailingSince => Interlocked.Read(ref _failingSinceTicks) is var ticks and not 0 ? new DateTimeOffset(ticks, TimeSpan.Zero) : null;

    public bool IsDisposed => Volatile.Read(ref _disposed) != 0;

    public async ValueTask RecordAsync(CostReceipt receipt, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(receipt);
        ObjectDisposedException.ThrowIf(IsDisposed, typeof(ICostLedger));
        Item item = new(new LedgerReceipt(receipt.Id, receipt.Scope, [.. receipt.Entries]), Flushed: null);
        _ = Interlocked.Increment(ref _recorded);
        if (_buffer.Writer.TryWrite(item))
        {
            return;
        }

        // Wait for room, then hand the receipt over with TryWrite: a receipt is in the buffer only when TryWrite took it,
        // so a wait that times out can never have handed it over too. (A blocked WriteAsync cancelled by the wait's
        // timer could both store the receipt and report it cancelled, so it was counted dropped and written.)
        using CancellationTokenSource wait = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        wait.CancelAfter(_fullWait);
        try
        {
            while (!_buffer.Writer.TryWrite(item))
            {
                if (!await _buffer.Writer.WaitToWriteAsync(wait.Token))
                {
                    throw new ChannelClosedException();
                }
            }
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            _ = Interlocked.Increment(ref _dropped);
            _droppedCounter.Add(1);
            BufferFull(_logger, receipt.Id, Capacity);
        }
        catch (OperationCanceledException)
        {
            _ = Interlocked.Decrement(ref _recorded);
            throw;
        }
        catch (ChannelClosedException)
        {
            _ = Interlocked.Decrement(ref _recorded);
            throw new ObjectDisposedException(typeof(ICostLedger).FullName);
        }
    }

    public async Task FlushAsync(CancellationToken cancellationToken)
    {
        TaskCompletionSource flushed = new(TaskCreationOptions.RunContinuationsAsynchronously);
        try
        {
            await _buffer.Writer.WriteAsync(new Item(null, flushed), cancellationToken);
        }
        catch (ChannelClosedException)
        {
            // Disposed: the writer writes what is left and stops.
#pragma warning disable VSTHRD003 // The buffer's own writer.
            await _writer.WaitAsync(cancellationToken);
#pragma warning restore VSTHRD003
            return;
        }

        await flushed.Task.WaitAsync(cancellationToken);
    }

    // Before a query or a prune: what was recorded is written first. While the writer is failing, it is woken to try
    // again at once (the database may be back) and waited for at most QueryFlushWait; then the query goes to the
    // database anyway (and fails fast when it is down) instead of waiting for a write that may never happen.
    public async Task FlushBeforeReadAsync(CancellationToken cancellationToken)
    {
        if (FailingSince is null)
        {
            await FlushAsync(cancellationToken);
            return;
        }

        using CancellationTokenSource woken = Interlocked.Exchange(ref _nudge, new CancellationTokenSource());
        await woken.CancelAsync();
        using CancellationTokenSource bounded = new(QueryFlushWait, _timeProvider);
        using CancellationTokenSource either = CancellationTokenSource.CreateLinkedTokenSource(bounded.Token, cancellationToken);
        try
        {
            await FlushAsync(either.Token);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            // Still failing: the query reads what is stored.
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        // A database that stays down must not hold the app's shutdown forever: the writer keeps retrying for
        // DisposeTimeout, then drops what is left (logged and counted).
        Volatile.Write(ref _giveUp, new CancellationTokenSource(_disposeTimeout, _timeProvider));
        _ = _buffer.Writer.TryComplete();
#pragma warning disable VSTHRD003 // The buffer's own writer, started by its constructor.
        await _writer;
#pragma warning restore VSTHRD003
        _giveUp?.Dispose();
        _nudge.Dispose();
        _meter.Dispose();
    }

    private async Task WriteLoopAsync()
    {
        List<Item> items = new(_batchSize);
        List<LedgerReceipt> batch = new(_batchSize);
        ChannelReader<Item> reader = _buffer.Reader;
        while (await reader.WaitToReadAsync())
        {
            while (items.Count < _batchSize && reader.TryRead(out Item? next))
            {
                items.Add(next);
                if (next.Receipt is { } receipt)
                {
                    batch.Add(receipt);
                }
            }

            TimeSpan pause = FirstPause;
            bool stored = batch.Count == 0;
            while (!stored)
            {
                try
                {
                    await _write(batch, CancellationToken.None);
                    _ = Interlocked.Exchange(ref _failingSinceTicks, 0);
                    stored = true;
                }
                catch (Exception ex)
                {
                    // Locked, disk full, read-only, the server down: the batch is kept and tried again; the buffer fills
                    // meanwhile (and drops by the stated policy once it is full).
                    _ = Interlocked.CompareExchange(ref _failingSinceTicks, _timeProvider.GetUtcNow().UtcTicks, 0);
                    WriteFailed(_logger, batch.Count, ex);
                    CancellationToken giveUp = Volatile.Read(ref _giveUp)?.Token ?? CancellationToken.None;
                    try
                    {
                        // A query can wake the writer early (FlushBeforeReadAsync): the database may be back.
                        using CancellationTokenSource pauseEnds = CancellationTokenSource.CreateLinkedTokenSource(giveUp, Volatile.Read(ref _nudge).Token);
                        await Task.Delay(pause, _timeProvider, pauseEnds.Token);
                    }
                    catch (Exception pauseEnded) when (pauseEnded is OperationCanceledException or ObjectDisposedException)
                    {
                    }

                    if (giveUp.IsCancellationRequested)
                    {
                        break;
                    }

                    pause = TimeSpan.FromTicks(Math.Min(pause.Ticks * 2, LongestPause.Ticks));
                }
            }

            if (stored)
            {
                _ = Interlocked.Add(ref _written, batch.Count);
            }
            else
            {
                // Disposed, and the database stayed unwritable past DisposeTimeout.
                _ = Interlocked.Add(ref _dropped, batch.Count);
                _droppedCounter.Add(batch.Count);
                DroppedAtShutdown(_logger, batch.Count, _disposeTimeout);
            }

            foreach (Item done in items)
            {
                done.Flushed?.TrySetResult();
            }

            items.Clear();
            batch.Clear();
        }
    }

    private sealed record class Item(LedgerReceipt? Receipt, TaskCompletionSource? Flushed);

    [LoggerMessage(110, LogLevel.Error, "The ledger's buffer stayed full ({Capacity} receipts): receipt {ReceiptId} was dropped. The database is slower than the traffic, or cannot be written.")]
    private static partial void BufferFull(ILogger logger, Guid receiptId, int capacity);

    [LoggerMessage(112, LogLevel.Error, "The ledger was disposed and its database stayed unwritable for {Timeout}: {Count} receipts were dropped.")]
    private static partial void DroppedAtShutdown(ILogger logger, int count, TimeSpan timeout);

    [LoggerMessage(111, LogLevel.Warning, "Writing {Count} receipts to the ledger failed; they are kept and tried again.")]
    private static partial void WriteFailed(ILogger logger, int count, Exception exception);
}

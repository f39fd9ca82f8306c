namespace CostAware;

/// <summary>
/// A running total of the receipts recorded in one asynchronous flow (one HTTP request, one job): what the flow spent
/// and avoided, for a response header or a log line. Every CostAware stage adds the receipts it records to the ambient
/// tally, when one was begun.
/// </summary>
/// <remarks>
/// The tally flows like <see cref="AsyncLocal{T}"/>: into awaited calls and tasks started inside the block. A receipt
/// recorded after the flow ended (a deferred batch call delivered later) is not in it. Thread-safe.
/// </remarks>
public sealed class CostTally
{
    private static readonly AsyncLocal<CostTally?> Ambient = new();
    private readonly Lock _lock = new();
    private decimal _spent;
    private decimal _avoided;
    private int _receipts;
    private bool _unpriced;

    private CostTally()
    {
    }

    /// <summary>Gets the ambient tally, or <see langword="null"/> when none was begun.</summary>
    public static CostTally? Current => Ambient.Value;

    /// <summary>Gets the money spent by the receipts added so far, in US dollars.</summary>
    public decimal Spent
    {
        get
        {
            lock (_lock)
            {
                return _spent;
            }
        }
    }

    /// <summary>Gets the money avoided (cache hits) by the receipts added so far, in US dollars.</summary>
    public decimal Avoided
    {
        get
        {
            lock (_lock)
            {
                return _avoided;
            }
        }
    }

    /// <summary>Gets how many receipts were added.</summary>
    public int Receipts => Volatile.Read(ref _receipts);

    /// <summary>Gets a value indicating whether every receipt added was fully priced (<see cref="CostReceipt.IsFullyPriced"/>).</summary>
    public bool IsFullyPriced => !Volatile.Read(ref _unpriced);

    /// <summary>Begins a tally that flows with the current asynchronous flow until the returned scope is disposed.</summary>
    /// <returns>The scope; its <see cref="TallyScope.Tally"/> is the new tally.</returns>
    public static TallyScope Begin()
    {
        CostTally? previous = Ambient.Value;
        CostTally tally = new();
        Ambient.Value = tally;
        return new TallyScope(tally, previous);
    }

    /// <summary>Adds a receipt's money to this tally (the stages do it when they record a receipt).</summary>
    /// <param name="receipt">The receipt.</param>
    /// <exception cref="ArgumentNullException"><paramref name="receipt"/> is <see langword="null"/>.</exception>
    public void Add(CostReceipt receipt)
    {
        ArgumentNullException.ThrowIfNull(receipt);
        decimal spent = receipt.Spent;
        decimal avoided = receipt.Avoided;
        bool priced = receipt.IsFullyPriced;
        lock (_lock)
        {
            _spent += spent;
            _avoided += avoided;
        }

        _ = Interlocked.Increment(ref _receipts);
        if (!priced)
        {
            Volatile.Write(ref _unpriced, true);
        }
    }

    /// <summary>The ambient tally's lifetime: disposing it restores the enclosing tally.</summary>
    public sealed class TallyScope : IDisposable
    {
        private readonly CostTally? _previous;
        private bool _disposed;

        internal TallyScope(CostTally tally, CostTally? previous)
        {
            Tally = tally;
            _previous = previous;
        }

        /// <summary>Gets the tally this scope began.</summary>
        public CostTally Tally { get; }

        /// <summary>Restores the enclosing tally as the ambient one (the tally keeps its sums).</summary>
        public void Dispose()
        {
            if (!_disposed)
            {
                _disposed = true;
                Ambient.Value = _previous;
            }
        }
    }
}

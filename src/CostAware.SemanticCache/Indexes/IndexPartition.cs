using System.Buffers;

namespace CostAware.SemanticCache.Internal;

// What every in-process index partition shares: dense rows with an id per row, swap-remove, a reader/writer lock
// (searches concurrent, adds and removes exclusive), and the scan that keeps the best k rows, on the calling thread
// or, above a size, in many small parallel parts. Subclasses own the row data and how a range of rows is scored.
internal abstract class IndexPartition(int dimensions) : IPartition
{
    // Below this many bytes of scanned data (4 MB) a partition is scanned on the calling thread: splitting costs more
    // than it saves. Measured: 10k x 384 floats (15 MB) took 0.41 ms on one thread against a 0.21 ms two-core read.
    internal const long ParallelThresholdBytes = 4 << 20;

    // Each parallel part scans about this much (1 MB), so that a part landing on a busy core delays the search little.
    private const long BytesPerPart = 1 << 20;

    private readonly ReaderWriterLockSlim _lock = new(LockRecursionPolicy.NoRecursion);
    private readonly Dictionary<long, int> _slots = [];
    private long[] _ids = new long[InitialRows];

    protected const int InitialRows = 16;

    protected int Dimensions => dimensions;

    protected int Rows { get; private set; }

    protected long IdAt(int row) => _ids[row];

    public void Dispose() => _lock.Dispose();

    // Returns true when the id was new to the partition.
    public bool Upsert(long id, ReadOnlySpan<float> unitVector)
    {
        _lock.EnterWriteLock();
        try
        {
            bool added = !_slots.TryGetValue(id, out int row);
            if (added)
            {
                if (Rows == _ids.Length)
                {
                    Array.Resize(ref _ids, _ids.Length * 2);
                    Grow(_ids.Length);
                }

                row = Rows++;
                _ids[row] = id;
                _slots[id] = row;
            }

            Write(row, unitVector);
            return added;
        }
        finally
        {
            _lock.ExitWriteLock();
        }
    }

    // The last row moves into the freed one, so storage stays dense.
    public bool Remove(long id)
    {
        _lock.EnterWriteLock();
        try
        {
            if (!_slots.Remove(id, out int row))
            {
                return false;
            }

            int last = --Rows;
            if (row != last)
            {
                Move(last, row);
                _ids[row] = _ids[last];
                _slots[_ids[row]] = row;
            }

            return true;
        }
        finally
        {
            _lock.ExitWriteLock();
        }
    }

    // query is the normalised query in a buffer of at least Dimensions elements.
    public int Search(float[] query, int candidates, Span<VectorMatch> results)
    {
        _lock.EnterReadLock();
        try
        {
            return SearchLocked(query, candidates, results);
        }
        finally
        {
            _lock.ExitReadLock();
        }
    }

    protected abstract void Grow(int rowCapacity);

    protected abstract void Write(int row, ReadOnlySpan<float> unitVector);

    protected abstract void Move(int from, int to);

    // Called under the read lock.
    protected abstract int SearchLocked(float[] query, int candidates, Span<VectorMatch> results);

    // The best results.Length rows by the scanner's score, best first. A struct scanner keeps the single-threaded path
    // free of allocations; only the parallel path captures it.
    protected int ScanTopK<TScanner>(in TScanner scanner, long bytesPerRow, Span<VectorMatch> results)
        where TScanner : struct, IRowScanner
    {
        int rows = Rows;
        long bytes = rows * bytesPerRow;
        if (bytes < ParallelThresholdBytes || Environment.ProcessorCount == 1)
        {
            return scanner.Scan(0, rows, results);
        }

        int k = results.Length;
        int parts = (int)Math.Clamp(bytes / BytesPerPart, 2, Environment.ProcessorCount * 8);
        VectorMatch[] partial = ArrayPool<VectorMatch>.Shared.Rent(parts * k);
        int[] counts = ArrayPool<int>.Shared.Rent(parts);
        try
        {
            int rowsPerPart = (rows + parts - 1) / parts;
            TScanner captured = scanner;
            _ = Parallel.For(0, parts, part =>
            {
                int from = part * rowsPerPart;
                int to = Math.Min(rows, from + rowsPerPart);
                counts[part] = from < to ? captured.Scan(from, to, partial.AsSpan(part * k, k)) : 0;
            });

            TopK top = new(results);
            for (int part = 0; part < parts; part++)
            {
                foreach (VectorMatch match in partial.AsSpan(part * k, counts[part]))
                {
                    top.Offer(match.Id, match.Similarity);
                }
            }

            return top.Complete();
        }
        finally
        {
            ArrayPool<VectorMatch>.Shared.Return(partial);
            ArrayPool<int>.Shared.Return(counts);
        }
    }

    // Scores rows [from, to) and keeps the best into.Length of them, best first; returns how many it kept.
    protected interface IRowScanner
    {
        int Scan(int from, int to, Span<VectorMatch> into);
    }
}

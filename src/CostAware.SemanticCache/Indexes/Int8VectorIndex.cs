using System.Buffers;
using System.Collections.Concurrent;
using System.Numerics.Tensors;
using CostAware.Internal;

namespace CostAware;

/// <summary>
/// A scalar-quantised exact-after-re-ranking index: each unit vector is also kept as int8 codes (one scale per
/// vector), a search scans the codes (a quarter of the bytes of <see cref="FlatVectorIndex"/>) for the best candidates,
/// then re-ranks those candidates with their float32 vectors.
/// </summary>
/// <remarks>
/// The scan reads 1 byte per dimension instead of 4, so on partitions too large for the CPU caches it is bounded by a
/// quarter of the memory traffic. Memory use is 5 bytes per dimension (codes plus the floats kept for re-ranking).
/// With <c>candidatesPerResult</c> candidates re-ranked per requested result, the returned top k equal the exact
/// ones unless quantisation error reorders entries beyond the candidate list (see the recall tests). Thread-safe:
/// searches of a partition run concurrently; an add or remove waits for them.
/// </remarks>
public sealed class Int8VectorIndex : IVectorIndex
{
    private const int MinimumCandidates = 32;
    private const int ParallelThresholdBytes = 4 << 20;
    private const int BytesPerPart = 1 << 20;

    private readonly ConcurrentDictionary<string, Partition> _partitions = new(StringComparer.Ordinal);
    private readonly int _candidatesPerResult;
    private int _count;

    /// <summary>Initializes a new instance of the <see cref="Int8VectorIndex"/> class.</summary>
    /// <param name="dimensions">The number of dimensions of every vector.</param>
    /// <param name="candidatesPerResult">How many int8 candidates are re-ranked with float vectors per requested result (at least 32 in all).</param>
    /// <exception cref="ArgumentOutOfRangeException">An argument is not positive.</exception>
    public Int8VectorIndex(int dimensions, int candidatesPerResult = 4)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(dimensions);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(candidatesPerResult);
        Dimensions = dimensions;
        _candidatesPerResult = candidatesPerResult;
    }

    /// <inheritdoc />
    public int Dimensions { get; }

    /// <inheritdoc />
    public int Count => Volatile.Read(ref _count);

    /// <inheritdoc />
    public void Add(string partition, long id, ReadOnlySpan<float> vector)
    {
        ArgumentNullException.ThrowIfNull(partition);
        float[] normalized = ArrayPool<float>.Shared.Rent(Dimensions);
        try
        {
            VectorChecks.Normalize(vector, Dimensions, normalized.AsSpan(0, Dimensions), nameof(vector));
            Partition target = _partitions.GetOrAdd(partition, static (_, dims) => new Partition(dims), Dimensions);
            if (target.Upsert(id, normalized.AsSpan(0, Dimensions)))
            {
                _ = Interlocked.Increment(ref _count);
            }
        }
        finally
        {
            ArrayPool<float>.Shared.Return(normalized);
        }
    }

    /// <inheritdoc />
    public bool Remove(string partition, long id)
    {
        ArgumentNullException.ThrowIfNull(partition);
        if (_partitions.TryGetValue(partition, out Partition? target) && target.Remove(id))
        {
            _ = Interlocked.Decrement(ref _count);
            return true;
        }

        return false;
    }

    /// <inheritdoc />
    public int Search(string partition, ReadOnlySpan<float> query, Span<VectorMatch> results)
    {
        ArgumentNullException.ThrowIfNull(partition);
        float[] normalized = ArrayPool<float>.Shared.Rent(Dimensions);
        try
        {
            VectorChecks.Normalize(query, Dimensions, normalized.AsSpan(0, Dimensions), nameof(query));
            int candidates = Math.Max(MinimumCandidates, results.Length * _candidatesPerResult);
            return _partitions.TryGetValue(partition, out Partition? target) && results.Length > 0
                ? target.Search(normalized.AsSpan(0, Dimensions), candidates, results)
                : 0;
        }
        finally
        {
            ArrayPool<float>.Shared.Return(normalized);
        }
    }

    /// <summary>Releases the partitions' locks. The index must not be used afterwards.</summary>
    public void Dispose()
    {
        foreach (Partition partition in _partitions.Values)
        {
            partition.Dispose();
        }

        _partitions.Clear();
    }

    // Symmetric per-vector quantisation: code = round(x / max|x| * 127), and max|x| / 127 is kept as the scale, so
    // code . code x scale x scale approximates the dot product.
    private static float Quantize(ReadOnlySpan<float> vector, Span<sbyte> codes)
    {
        // MaxMagnitude returns the element itself, which may be negative.
        float max = Math.Abs(TensorPrimitives.MaxMagnitude(vector));
        float factor = max > 0 ? 127f / max : 0f;
        for (int i = 0; i < vector.Length; i++)
        {
            codes[i] = (sbyte)Math.Round(vector[i] * factor);
        }

        return max / 127f;
    }

    private sealed class Partition(int dimensions) : IDisposable
    {
        private readonly ReaderWriterLockSlim _lock = new(LockRecursionPolicy.NoRecursion);
        private readonly Dictionary<long, int> _slots = [];
        private sbyte[] _codes = new sbyte[dimensions * 16];
        private float[] _vectors = new float[dimensions * 16];
        private float[] _scales = new float[16];
        private long[] _ids = new long[16];
        private int _rows;

        public void Dispose() => _lock.Dispose();

        public bool Upsert(long id, ReadOnlySpan<float> vector)
        {
            _lock.EnterWriteLock();
            try
            {
                bool added = !_slots.TryGetValue(id, out int slot);
                if (added)
                {
                    if (_rows == _ids.Length)
                    {
                        Array.Resize(ref _ids, _ids.Length * 2);
                        Array.Resize(ref _scales, _scales.Length * 2);
                        Array.Resize(ref _codes, _codes.Length * 2);
                        Array.Resize(ref _vectors, _vectors.Length * 2);
                    }

                    slot = _rows++;
                    _ids[slot] = id;
                    _slots[id] = slot;
                }

                vector.CopyTo(_vectors.AsSpan(slot * dimensions, dimensions));
                _scales[slot] = Quantize(vector, _codes.AsSpan(slot * dimensions, dimensions));
                return added;
            }
            finally
            {
                _lock.ExitWriteLock();
            }
        }

        public bool Remove(long id)
        {
            _lock.EnterWriteLock();
            try
            {
                if (!_slots.Remove(id, out int slot))
                {
                    return false;
                }

                int last = --_rows;
                if (slot != last)
                {
                    _codes.AsSpan(last * dimensions, dimensions).CopyTo(_codes.AsSpan(slot * dimensions, dimensions));
                    _vectors.AsSpan(last * dimensions, dimensions).CopyTo(_vectors.AsSpan(slot * dimensions, dimensions));
                    _scales[slot] = _scales[last];
                    _ids[slot] = _ids[last];
                    _slots[_ids[slot]] = slot;
                }

                return true;
            }
            finally
            {
                _lock.ExitWriteLock();
            }
        }

        public int Search(ReadOnlySpan<float> query, int candidates, Span<VectorMatch> results)
        {
            sbyte[] queryCodes = ArrayPool<sbyte>.Shared.Rent(dimensions);
            VectorMatch[] shortlist = ArrayPool<VectorMatch>.Shared.Rent(candidates);
            _lock.EnterReadLock();
            try
            {
                _ = Quantize(query, queryCodes.AsSpan(0, dimensions));
                int found = (long)_rows * dimensions >= ParallelThresholdBytes && Environment.ProcessorCount > 1
                    ? ScanParallel(queryCodes, shortlist.AsSpan(0, candidates))
                    : Scan(queryCodes.AsSpan(0, dimensions), 0, _rows, shortlist.AsSpan(0, candidates));

                // Re-rank the shortlist with the float vectors. Shortlist ids are row numbers during the scan.
                TopK top = new(results);
                foreach (VectorMatch candidate in shortlist.AsSpan(0, found))
                {
                    int row = (int)candidate.Id;
                    top.Offer(_ids[row], TensorPrimitives.Dot(query, _vectors.AsSpan(row * dimensions, dimensions)));
                }

                return top.Complete();
            }
            finally
            {
                _lock.ExitReadLock();
                ArrayPool<sbyte>.Shared.Return(queryCodes);
                ArrayPool<VectorMatch>.Shared.Return(shortlist);
            }
        }

        private int Scan(ReadOnlySpan<sbyte> query, int from, int to, Span<VectorMatch> shortlist)
        {
            TopK top = new(shortlist);
            ReadOnlySpan<sbyte> codes = _codes;
            for (int row = from; row < to; row++)
            {
                float approximate = Int8Dot.Compute(query, codes.Slice(row * dimensions, dimensions)) * _scales[row];
                if (approximate >= top.Threshold)
                {
                    top.Offer(row, approximate);
                }
            }

            return top.Complete();
        }

        private int ScanParallel(sbyte[] query, Span<VectorMatch> shortlist)
        {
            int k = shortlist.Length;
            int parts = (int)Math.Clamp((long)_rows * dimensions / BytesPerPart, 2, Environment.ProcessorCount * 8);
            VectorMatch[] partial = ArrayPool<VectorMatch>.Shared.Rent(parts * k);
            int[] counts = ArrayPool<int>.Shared.Rent(parts);
            try
            {
                int rowsPerPart = (_rows + parts - 1) / parts;
                _ = Parallel.For(0, parts, part =>
                {
                    int from = part * rowsPerPart;
                    int to = Math.Min(_rows, from + rowsPerPart);
                    counts[part] = from < to ? Scan(query.AsSpan(0, dimensions), from, to, partial.AsSpan(part * k, k)) : 0;
                });

                TopK top = new(shortlist);
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
    }
}

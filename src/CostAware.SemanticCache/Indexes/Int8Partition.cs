using System.Buffers;
using System.Numerics.Tensors;

namespace CostAware.SemanticCache.Internal;

// One partition of Int8VectorIndex: each unit vector as int8 codes with one scale, plus the float32 vector for
// re-ranking. A search scans the codes for a shortlist, then scores the shortlist exactly.
internal sealed class Int8Partition(int dimensions) : IndexPartition(dimensions)
{
    private sbyte[] _codes = new sbyte[dimensions * InitialRows];
    private float[] _vectors = new float[dimensions * InitialRows];
    private float[] _scales = new float[InitialRows];

    // Symmetric per-vector quantisation: code = round(x / max|x| * 127), with max|x| / 127 kept as the scale, so that
    // codes . codes x scale x scale approximates the dot product.
    public static float Quantize(ReadOnlySpan<float> vector, Span<sbyte> codes)
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

    protected override void Grow(int rowCapacity)
    {
        Array.Resize(ref _codes, rowCapacity * Dimensions);
        Array.Resize(ref _vectors, rowCapacity * Dimensions);
        Array.Resize(ref _scales, rowCapacity);
    }

    protected override void Write(int row, ReadOnlySpan<float> unitVector)
    {
        unitVector.CopyTo(_vectors.AsSpan(row * Dimensions, Dimensions));
        _scales[row] = Quantize(unitVector, _codes.AsSpan(row * Dimensions, Dimensions));
    }

    protected override void Move(int from, int to)
    {
        _codes.AsSpan(from * Dimensions, Dimensions).CopyTo(_codes.AsSpan(to * Dimensions, Dimensions));
        _vectors.AsSpan(from * Dimensions, Dimensions).CopyTo(_vectors.AsSpan(to * Dimensions, Dimensions));
        _scales[to] = _scales[from];
    }

    protected override int SearchLocked(float[] query, int candidates, Span<VectorMatch> results)
    {
        int dimensions = Dimensions;
        sbyte[] queryCodes = ArrayPool<sbyte>.Shared.Rent(dimensions);
        VectorMatch[] shortlist = ArrayPool<VectorMatch>.Shared.Rent(candidates);
        try
        {
            _ = Quantize(query.AsSpan(0, dimensions), queryCodes.AsSpan(0, dimensions));
            int found = ScanTopK(new Scanner(this, queryCodes), dimensions, shortlist.AsSpan(0, candidates));

            // Re-rank the shortlist with the float vectors. Shortlist ids are row numbers during the scan.
            TopK top = new(results);
            foreach (VectorMatch candidate in shortlist.AsSpan(0, found))
            {
                int row = (int)candidate.Id;
                top.Offer(IdAt(row), TensorPrimitives.Dot(query.AsSpan(0, dimensions), _vectors.AsSpan(row * dimensions, dimensions)));
            }

            return top.Complete();
        }
        finally
        {
            ArrayPool<sbyte>.Shared.Return(queryCodes);
            ArrayPool<VectorMatch>.Shared.Return(shortlist);
        }
    }

    private readonly struct Scanner(Int8Partition partition, sbyte[] queryCodes) : IRowScanner
    {
        public int Scan(int from, int to, Span<VectorMatch> into)
        {
            int dimensions = partition.Dimensions;
            ReadOnlySpan<sbyte> q = queryCodes.AsSpan(0, dimensions);
            ReadOnlySpan<sbyte> codes = partition._codes;
            TopK top = new(into);
            for (int row = from; row < to; row++)
            {
                float approximate = Int8Dot.Compute(q, codes.Slice(row * dimensions, dimensions)) * partition._scales[row];
                if (approximate >= top.Threshold)
                {
                    top.Offer(row, approximate);
                }
            }

            return top.Complete();
        }
    }
}

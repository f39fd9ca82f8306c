using System.Numerics.Tensors;

namespace CostAware.SemanticCache.Internal;

// One partition of FlatVectorIndex: unit vectors in one contiguous float32 array, scored by dot product.
internal sealed class FlatPartition(int dimensions) : IndexPartition(dimensions)
{
    private float[] _vectors = new float[dimensions * InitialRows];

    protected override void Grow(int rowCapacity) => Array.Resize(ref _vectors, rowCapacity * Dimensions);

    protected override void Write(int row, ReadOnlySpan<float> unitVector) => unitVector.CopyTo(_vectors.AsSpan(row * Dimensions, Dimensions));

    protected override void Move(int from, int to) =>
        _vectors.AsSpan(from * Dimensions, Dimensions).CopyTo(_vectors.AsSpan(to * Dimensions, Dimensions));

    protected override int SearchLocked(float[] query, int candidates, Span<VectorMatch> results) =>
        ScanTopK(new Scanner(this, query), (long)Dimensions * sizeof(float), results);

    private readonly struct Scanner(FlatPartition partition, float[] query) : IRowScanner
    {
        public int Scan(int from, int to, Span<VectorMatch> into)
        {
            int dimensions = partition.Dimensions;
            ReadOnlySpan<float> q = query.AsSpan(0, dimensions);
            ReadOnlySpan<float> vectors = partition._vectors;
            TopK top = new(into);
            for (int row = from; row < to; row++)
            {
                float similarity = TensorPrimitives.Dot(q, vectors.Slice(row * dimensions, dimensions));
                if (similarity >= top.Threshold)
                {
                    top.Offer(partition.IdAt(row), similarity);
                }
            }

            return top.Complete();
        }
    }
}

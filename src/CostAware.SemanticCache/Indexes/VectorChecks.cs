using System.Numerics.Tensors;

namespace CostAware.SemanticCache.Internal;

// The boundary check every index shares: a vector must have the index's length, finite elements and a non-zero
// length; it is then written out normalised.
internal static class VectorChecks
{
    public static void Normalize(ReadOnlySpan<float> vector, int dimensions, Span<float> destination, string parameterName)
    {
        if (vector.Length != dimensions)
        {
            throw new ArgumentException($"The vector has {vector.Length} dimensions; this index holds {dimensions}.", parameterName);
        }

        for (int i = 0; i < vector.Length; i++)
        {
            if (!float.IsFinite(vector[i]))
            {
                throw new ArgumentException($"The vector has {(float.IsNaN(vector[i]) ? "a NaN" : "an infinite")} element at index {i}.", parameterName);
            }
        }

        float norm = TensorPrimitives.Norm(vector);
        if (!(norm > 0f) || !float.IsFinite(norm))
        {
            throw new ArgumentException("The vector has zero length (or a length that overflows), so it has no direction to compare.", parameterName);
        }

        TensorPrimitives.Divide(vector, norm, destination);
    }
}

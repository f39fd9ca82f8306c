using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace CostAware.SemanticCache.Internal;

// The dot product of two int8 vectors as an exact int32. TensorPrimitives has no widening int8 dot product (its
// Dot<sbyte> returns an sbyte), so this is hand-written: a 512/256/128-bit cascade that widens bytes to int16,
// multiplies (127 x 127 fits in int16), widens the products to int32 and accumulates, then a scalar tail. The
// scalar loop is the reference every length is tested against.
internal static class Int8Dot
{
    public static int Compute(ReadOnlySpan<sbyte> x, ReadOnlySpan<sbyte> y)
    {
        if (x.Length != y.Length)
        {
            ThrowLengthMismatch();
        }

        ref sbyte xr = ref MemoryMarshal.GetReference(x);
        ref sbyte yr = ref MemoryMarshal.GetReference(y);
        int length = x.Length;
        int i = 0;
        int sum = 0;

        if (Vector512.IsHardwareAccelerated && length >= Vector512<sbyte>.Count)
        {
            Vector512<int> acc = Vector512<int>.Zero;
            for (; i <= length - Vector512<sbyte>.Count; i += Vector512<sbyte>.Count)
            {
                (Vector512<short> xl, Vector512<short> xh) = Vector512.Widen(Vector512.LoadUnsafe(ref xr, (nuint)i));
                (Vector512<short> yl, Vector512<short> yh) = Vector512.Widen(Vector512.LoadUnsafe(ref yr, (nuint)i));
                acc += Sum(xl * yl) + Sum(xh * yh);
            }

            sum = Vector512.Sum(acc);
        }
        else if (Vector256.IsHardwareAccelerated && length >= Vector256<sbyte>.Count)
        {
            Vector256<int> acc = Vector256<int>.Zero;
            for (; i <= length - Vector256<sbyte>.Count; i += Vector256<sbyte>.Count)
            {
                (Vector256<short> xl, Vector256<short> xh) = Vector256.Widen(Vector256.LoadUnsafe(ref xr, (nuint)i));
                (Vector256<short> yl, Vector256<short> yh) = Vector256.Widen(Vector256.LoadUnsafe(ref yr, (nuint)i));
                acc += Sum(xl * yl) + Sum(xh * yh);
            }

            sum = Vector256.Sum(acc);
        }

        if (Vector128.IsHardwareAccelerated && length - i >= Vector128<sbyte>.Count)
        {
            Vector128<int> acc = Vector128<int>.Zero;
            for (; i <= length - Vector128<sbyte>.Count; i += Vector128<sbyte>.Count)
            {
                (Vector128<short> xl, Vector128<short> xh) = Vector128.Widen(Vector128.LoadUnsafe(ref xr, (nuint)i));
                (Vector128<short> yl, Vector128<short> yh) = Vector128.Widen(Vector128.LoadUnsafe(ref yr, (nuint)i));
                acc += Sum(xl * yl) + Sum(xh * yh);
            }

            sum += Vector128.Sum(acc);
        }

        for (; i < length; i++)
        {
            sum += Unsafe.Add(ref xr, i) * Unsafe.Add(ref yr, i);
        }

        return sum;
    }

    public static int Reference(ReadOnlySpan<sbyte> x, ReadOnlySpan<sbyte> y)
    {
        int sum = 0;
        for (int i = 0; i < x.Length; i++)
        {
            sum += x[i] * y[i];
        }

        return sum;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<int> Sum(Vector512<short> products)
    {
        (Vector512<int> lo, Vector512<int> hi) = Vector512.Widen(products);
        return lo + hi;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<int> Sum(Vector256<short> products)
    {
        (Vector256<int> lo, Vector256<int> hi) = Vector256.Widen(products);
        return lo + hi;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<int> Sum(Vector128<short> products)
    {
        (Vector128<int> lo, Vector128<int> hi) = Vector128.Widen(products);
        return lo + hi;
    }

    [System.Diagnostics.CodeAnalysis.DoesNotReturn]
    private static void ThrowLengthMismatch() => throw new ArgumentException("The vectors differ in length.");
}

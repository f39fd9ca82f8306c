using CostAware.SemanticCache.Internal;
using CostAware.Shared;

namespace CostAware.SemanticCache.Tests.Indexes;

public class Int8DotTests
{
    // Every length 0-300, with random values and with the extremes (-128 x -128 is the largest product).
    [Fact]
    public void Compute_EveryLength0To300_EqualsTheScalarReference()
    {
        Random random = new(300);
        for (int length = 0; length <= 300; length++)
        {
            sbyte[] x = new sbyte[length];
            sbyte[] y = new sbyte[length];
            random.NextBytes(System.Runtime.InteropServices.MemoryMarshal.AsBytes(x.AsSpan()));
            random.NextBytes(System.Runtime.InteropServices.MemoryMarshal.AsBytes(y.AsSpan()));
            Assert.Equal(Int8Dot.Reference(x, y), Int8Dot.Compute(x, y));

            Array.Fill(x, sbyte.MinValue);
            Array.Fill(y, sbyte.MinValue);
            Assert.Equal(length * 16_384, Int8Dot.Compute(x, y));

            Array.Fill(y, sbyte.MaxValue);
            Assert.Equal(length * -16_256, Int8Dot.Compute(x, y));
        }
    }

    [Fact]
    public void Compute_LengthMismatch_Throws() =>
        Assert.Throws<ArgumentException>(() => Int8Dot.Compute(new sbyte[3], new sbyte[4]));
}

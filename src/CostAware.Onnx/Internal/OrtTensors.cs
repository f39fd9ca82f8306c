using System.Numerics.Tensors;
using System.Runtime.InteropServices;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace CostAware.Onnx.Internal;

// Small conversions between managed arrays and ORT values: integer inputs in the element type the model declares,
// float32 or float16 outputs read as float32.
internal static class OrtTensors
{
    // Wraps the values without copying when the model takes int64 (the memory must outlive the value); int32 is a copy.
    public static OrtValue Integers(Memory<long> values, long[] shape, TensorElementType type)
    {
        if (type == TensorElementType.Int64)
        {
            return OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, values, shape);
        }

        ReadOnlySpan<long> wide = values.Span;
        int[] narrow = new int[wide.Length];
        for (int i = 0; i < wide.Length; i++)
        {
            narrow[i] = checked((int)wide[i]);
        }

        return OrtValue.CreateTensorValueFromMemory(narrow, shape);
    }

    public static OrtValue Empty(TensorElementType type, long[] shape)
    {
        OrtValue value = OrtValue.CreateAllocatedTensorValue(OrtAllocator.DefaultInstance, type, shape);
        value.GetTensorMutableRawData().Clear();
        return value;
    }

    // Copies logits[b, last, :] of a [batch, sequence, vocab] (or [batch, vocab]) tensor into destination[b * vocab ..].
    public static int LastPositionLogits(OrtValue logits, int batch, TensorElementType type, ref float[] destination)
    {
        long[] shape = logits.GetTensorTypeAndShape().Shape;
        int vocab = checked((int)shape[^1]);
        int sequence = shape.Length == 3 ? checked((int)shape[1]) : 1;
        if (destination.Length < batch * vocab)
        {
            destination = new float[batch * vocab];
        }

        for (int b = 0; b < batch; b++)
        {
            int offset = ((b * sequence) + sequence - 1) * vocab;
            Span<float> into = destination.AsSpan(b * vocab, vocab);
            if (type == TensorElementType.Float16)
            {
                ReadOnlySpan<Float16> half = logits.GetTensorDataAsSpan<Float16>().Slice(offset, vocab);
                TensorPrimitives.ConvertToSingle(MemoryMarshal.Cast<Float16, Half>(half), into);
            }
            else
            {
                logits.GetTensorDataAsSpan<float>().Slice(offset, vocab).CopyTo(into);
            }
        }

        return vocab;
    }
}

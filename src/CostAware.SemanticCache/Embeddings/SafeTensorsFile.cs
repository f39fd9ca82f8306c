using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text.Json;

namespace CostAware.SemanticCache.Internal;

// Reads the safetensors format: an 8-byte little-endian header length, a JSON header naming each tensor's dtype,
// shape and byte range, then the raw little-endian data. Every range is checked against the file before use, so a
// truncated or altered file fails with a message naming the tensor, never with an out-of-range read.
internal sealed class SafeTensorsFile
{
    private readonly byte[] _bytes;
    private readonly int _dataStart;
    private readonly Dictionary<string, (string DType, long[] Shape, long Begin, long End)> _tensors;

    private SafeTensorsFile(byte[] bytes, int dataStart, Dictionary<string, (string, long[], long, long)> tensors, string source)
    {
        _bytes = bytes;
        _dataStart = dataStart;
        _tensors = tensors;
        Source = source;
    }

    public string Source { get; }

    public static SafeTensorsFile Read(byte[] bytes, string source)
    {
        if (bytes.Length < 8)
        {
            throw Invalid(source, "the file is shorter than its 8-byte header length");
        }

        ulong headerLength = BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        if (headerLength > (ulong)(bytes.Length - 8))
        {
            throw Invalid(source, $"the header claims {headerLength} bytes but the file has {bytes.Length - 8} after the length");
        }

        int dataStart = 8 + (int)headerLength;
        Dictionary<string, (string, long[], long, long)> tensors = new(StringComparer.Ordinal);
        try
        {
            using JsonDocument header = JsonDocument.Parse(bytes.AsMemory(8, (int)headerLength));
            foreach (JsonProperty tensor in header.RootElement.EnumerateObject())
            {
                if (tensor.Name == "__metadata__")
                {
                    continue;
                }

                string dtype = tensor.Value.GetProperty("dtype").GetString() ?? "";
                long[] shape = [.. tensor.Value.GetProperty("shape").EnumerateArray().Select(static d => d.GetInt64())];
                JsonElement offsets = tensor.Value.GetProperty("data_offsets");
                long begin = offsets[0].GetInt64();
                long end = offsets[1].GetInt64();
                if (begin < 0 || end < begin || end > bytes.Length - dataStart)
                {
                    throw Invalid(source, $"tensor '{tensor.Name}' spans bytes {begin}..{end}, outside the {bytes.Length - dataStart} data bytes");
                }

                tensors[tensor.Name] = (dtype, shape, begin, end);
            }
        }
        catch (Exception ex) when (ex is JsonException or KeyNotFoundException or InvalidOperationException or FormatException)
        {
            throw Invalid(source, $"the header is not valid safetensors JSON ({ex.Message})", ex);
        }

        return new SafeTensorsFile(bytes, dataStart, tensors, source);
    }

    public long[] Shape(string name) => Find(name).Shape;

    public float[] ReadSingles(string name) => Read<float>(name, "F32");

    public double[] ReadDoubles(string name) => Read<double>(name, "F64");

    public int[] ReadInt32s(string name) => Read<int>(name, "I32");

    public bool Contains(string name) => _tensors.ContainsKey(name);

    private T[] Read<T>(string name, string dtype)
        where T : unmanaged
    {
        (string actual, long[] shape, long begin, long end) = Find(name);
        if (actual != dtype)
        {
            throw Invalid(Source, $"tensor '{name}' is {actual}, expected {dtype}");
        }

        long count = 1;
        foreach (long d in shape)
        {
            count *= d;
        }

        if (count * Unsafe.SizeOf<T>() != end - begin)
        {
            throw Invalid(Source, $"tensor '{name}' has shape [{string.Join(", ", shape)}] but {end - begin} bytes");
        }

        // The format is little-endian, like every platform .NET runs on but a few.
        T[] values = MemoryMarshal.Cast<byte, T>(_bytes.AsSpan(_dataStart + (int)begin, (int)(end - begin))).ToArray();
        if (!BitConverter.IsLittleEndian)
        {
            MemoryMarshal.AsBytes(values.AsSpan()).Reverse();
            values.AsSpan().Reverse();
        }

        return values;
    }

    private (string DType, long[] Shape, long Begin, long End) Find(string name) =>
        _tensors.TryGetValue(name, out var tensor) ? tensor : throw Invalid(Source, $"it has no tensor named '{name}'");

    private static InvalidDataException Invalid(string source, string problem, Exception? inner = null) =>
        new($"'{source}' is not a usable safetensors file: {problem}.", inner);
}

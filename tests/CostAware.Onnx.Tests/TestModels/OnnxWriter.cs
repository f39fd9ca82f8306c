using System.Runtime.InteropServices;
using System.Text;

namespace CostAware.Onnx.Tests.TestModels;

// A minimal protobuf writer for ONNX models (field numbers from onnx.proto, ONNX-BACKEND.md §4.1), so tests build
// their tiny models in code: no Python, nothing downloaded.
internal sealed class Pb
{
    private readonly MemoryStream _stream = new();

    public byte[] ToArray() => _stream.ToArray();

    public Pb Int(int field, long value)
    {
        Tag(field, 0);
        Varint(unchecked((ulong)value));
        return this;
    }

    public Pb Float(int field, float value)
    {
        Tag(field, 5);
        _stream.Write(BitConverter.GetBytes(value));
        return this;
    }

    public Pb Bytes(int field, byte[] value)
    {
        Tag(field, 2);
        Varint((ulong)value.Length);
        _stream.Write(value);
        return this;
    }

    public Pb Str(int field, string value) => Bytes(field, Encoding.UTF8.GetBytes(value));

    public Pb Msg(int field, Pb message) => Bytes(field, message.ToArray());

    private void Tag(int field, int wire) => Varint((ulong)((field << 3) | wire));

    private void Varint(ulong value)
    {
        while (value >= 0x80)
        {
            _stream.WriteByte((byte)(value | 0x80));
            value >>= 7;
        }

        _stream.WriteByte((byte)value);
    }
}

// ONNX graph helpers over Pb: nodes, attributes, initializers, typed inputs and outputs, the model.
internal sealed class OnnxGraph
{
    public const int Float = 1;
    public const int Int32 = 6;
    public const int Int64 = 7;

    public const int UInt8 = 2;

    private readonly Pb _graph = new Pb().Str(2, "tiny");
    private readonly Stream? _external;
    private readonly string? _externalName;
    private int _nodes;

    public OnnxGraph()
    {
    }

    // Initializers larger than 1 KiB go to a side file (ONNX external data, beside model.onnx): a model over 2 GB
    // cannot be one protobuf message.
    public OnnxGraph(Stream external, string externalName)
    {
        _external = external;
        _externalName = externalName;
    }

    public OnnxGraph Node(string op, string[] inputs, string[] outputs, string domain = "", params Pb[] attributes)
    {
        Pb node = new();
        foreach (string input in inputs)
        {
            _ = node.Str(1, input);
        }

        foreach (string output in outputs)
        {
            _ = node.Str(2, output);
        }

        _ = node.Str(3, op + "_" + _nodes++).Str(4, op);
        foreach (Pb attribute in attributes)
        {
            _ = node.Msg(5, attribute);
        }

        if (domain.Length > 0)
        {
            _ = node.Str(7, domain);
        }

        _ = _graph.Msg(1, node);
        return this;
    }

    public static Pb AttrInt(string name, long value) => new Pb().Str(1, name).Int(3, value).Int(20, 2);

    public static Pb AttrInts(string name, params long[] values)
    {
        Pb attribute = new Pb().Str(1, name);
        foreach (long value in values)
        {
            _ = attribute.Int(8, value);
        }

        return attribute.Int(20, 7);
    }

    public static Pb AttrFloat(string name, float value) => new Pb().Str(1, name).Float(2, value).Int(20, 1);

    public OnnxGraph Init(string name, float[] values, params long[] dims) => Init(name, Float, MemoryMarshal.AsBytes(values.AsSpan()).ToArray(), dims);

    public OnnxGraph Init(string name, long[] values, params long[] dims) => Init(name, Int64, MemoryMarshal.AsBytes(values.AsSpan()).ToArray(), dims);

    public OnnxGraph Init(string name, byte[] values, params long[] dims) => Init(name, UInt8, values, dims);

    private OnnxGraph Init(string name, int type, byte[] raw, long[] dims)
    {
        Pb tensor = new();
        foreach (long dim in dims)
        {
            _ = tensor.Int(1, dim);
        }

        _ = tensor.Int(2, type).Str(8, name);
        if (_external is not null && raw.Length > 1024)
        {
            // TensorProto.external_data (13): location, offset, length; data_location (14) = EXTERNAL.
            long offset = _external.Position;
            _external.Write(raw);
            _ = tensor.Msg(13, new Pb().Str(1, "location").Str(2, _externalName!))
                .Msg(13, new Pb().Str(1, "offset").Str(2, offset.ToString(System.Globalization.CultureInfo.InvariantCulture)))
                .Msg(13, new Pb().Str(1, "length").Str(2, raw.Length.ToString(System.Globalization.CultureInfo.InvariantCulture)))
                .Int(14, 1);
        }
        else
        {
            _ = tensor.Bytes(9, raw);
        }

        _ = _graph.Msg(5, tensor);
        return this;
    }

    public OnnxGraph Input(string name, int type, params object[] dims)
    {
        _ = _graph.Msg(11, ValueInfo(name, type, dims));
        return this;
    }

    public OnnxGraph Output(string name, int type, params object[] dims)
    {
        _ = _graph.Msg(12, ValueInfo(name, type, dims));
        return this;
    }

    public byte[] Model(bool microsoftDomain = false)
    {
        Pb model = new Pb().Int(1, 8).Str(2, "costaware-tests").Msg(7, _graph).Msg(8, new Pb().Str(1, "").Int(2, 17));
        if (microsoftDomain)
        {
            _ = model.Msg(8, new Pb().Str(1, "com.microsoft").Int(2, 1));
        }

        return model.ToArray();
    }

    private static Pb ValueInfo(string name, int type, object[] dims)
    {
        Pb shape = new();
        foreach (object dim in dims)
        {
            _ = shape.Msg(1, dim is string symbol ? new Pb().Str(2, symbol) : new Pb().Int(1, Convert.ToInt64(dim, System.Globalization.CultureInfo.InvariantCulture)));
        }

        Pb tensor = new Pb().Int(1, type).Msg(2, shape);
        return new Pb().Str(1, name).Msg(2, new Pb().Msg(1, tensor));
    }
}

using System.Globalization;
using System.Text;

namespace SelfAlign.Models;

/// <summary>
/// Writes a GGUF v3 file. Tensor data is streamed from callbacks in directory order, so a model
/// larger than memory can be written.
/// </summary>
public sealed class GgufWriter
{
    /// <summary>A tensor to write: its directory entry and a callback that writes exactly its bytes.</summary>
    public sealed record TensorEntry(string Name, GgmlType Type, long[] Shape, Action<Stream> WriteData);

    private const int Alignment = 32;
    private readonly List<KeyValuePair<string, GgufMetadataValue>> _metadata = [];
    private readonly List<TensorEntry> _tensors = [];

    public GgufWriter Set(string key, GgufMetadataValue value)
    {
        _metadata.RemoveAll(kv => kv.Key == key);
        _metadata.Add(new(key, value));
        return this;
    }

    public GgufWriter AddTensor(TensorEntry tensor) { _tensors.Add(tensor); return this; }

    /// <summary>Writes to a temporary file first and renames it, so a failed write leaves no half model.</summary>
    public void Write(string path)
    {
        var tmp = path + ".tmp";
        using (var fs = new FileStream(tmp, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 20))
        {
            var w = new BinaryWriter(fs, Encoding.UTF8, leaveOpen: true);
            w.Write(0x46554747u);
            w.Write(3u);
            w.Write((ulong)_tensors.Count);
            w.Write((ulong)_metadata.Count);
            foreach (var (key, value) in _metadata) { WriteString(w, key); WriteValue(w, value); }

            long offset = 0;
            var sizes = new List<long>();
            foreach (var t in _tensors)
            {
                WriteString(w, t.Name);
                w.Write((uint)t.Shape.Length);
                foreach (var d in t.Shape) w.Write((ulong)d);
                w.Write((uint)t.Type);
                w.Write((ulong)offset);
                var size = GgmlTypeInfo.ByteSize(t.Type, t.Shape.Aggregate(1L, (a, b) => a * b))
                    ?? throw new ArgumentException($"tensor {t.Name} does not fill whole {t.Type} blocks");
                sizes.Add(size);
                offset += Align(size);
            }
            w.Flush();
            Pad(fs);
            for (var i = 0; i < _tensors.Count; i++)
            {
                var start = fs.Position;
                _tensors[i].WriteData(fs);
                if (fs.Position - start != sizes[i])
                    throw new InvalidOperationException($"tensor {_tensors[i].Name}: wrote {fs.Position - start} bytes, expected {sizes[i]}");
                Pad(fs);
            }
        }
        File.Move(tmp, path, overwrite: true);
    }

    private static long Align(long n) => (n + Alignment - 1) / Alignment * Alignment;

    private static void Pad(Stream s)
    {
        var pad = (int)(Align(s.Position) - s.Position);
        if (pad > 0) s.Write(new byte[pad]);
    }

    private static void WriteString(BinaryWriter w, string s)
    {
        var bytes = Encoding.UTF8.GetBytes(s);
        w.Write((ulong)bytes.Length);
        w.Write(bytes);
    }

    private static void WriteValue(BinaryWriter w, GgufMetadataValue v)
    {
        w.Write((uint)v.Type);
        if (v.Type != GgufValueType.Array) { WriteScalar(w, v.Type, v.Value); return; }
        var array = (Array)v.Value;
        w.Write((uint)v.ElementType!.Value);
        w.Write((ulong)array.Length);
        foreach (var item in array) WriteScalar(w, v.ElementType.Value, item!);
    }

    private static void WriteScalar(BinaryWriter w, GgufValueType t, object value)
    {
        switch (t)
        {
            case GgufValueType.String: WriteString(w, (string)value); break;
            case GgufValueType.UInt8: w.Write(Convert.ToByte(value, CultureInfo.InvariantCulture)); break;
            case GgufValueType.Int8: w.Write(Convert.ToSByte(value, CultureInfo.InvariantCulture)); break;
            case GgufValueType.UInt16: w.Write(Convert.ToUInt16(value, CultureInfo.InvariantCulture)); break;
            case GgufValueType.Int16: w.Write(Convert.ToInt16(value, CultureInfo.InvariantCulture)); break;
            case GgufValueType.UInt32: w.Write(Convert.ToUInt32(value, CultureInfo.InvariantCulture)); break;
            case GgufValueType.Int32: w.Write(Convert.ToInt32(value, CultureInfo.InvariantCulture)); break;
            case GgufValueType.Float32: w.Write(Convert.ToSingle(value, CultureInfo.InvariantCulture)); break;
            case GgufValueType.Bool: w.Write((byte)((bool)value ? 1 : 0)); break;
            case GgufValueType.UInt64: w.Write(Convert.ToUInt64(value, CultureInfo.InvariantCulture)); break;
            case GgufValueType.Int64: w.Write(Convert.ToInt64(value, CultureInfo.InvariantCulture)); break;
            case GgufValueType.Float64: w.Write(Convert.ToDouble(value, CultureInfo.InvariantCulture)); break;
            default: throw new ArgumentException($"cannot write metadata of type {t}");
        }
    }
}

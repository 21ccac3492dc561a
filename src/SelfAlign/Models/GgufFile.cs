using System.Text;

namespace SelfAlign.Models;

/// <summary>
/// The header of a GGUF file: metadata and tensor directory, validated as it is read so that a
/// corrupt or hostile file gives a <see cref="GgufFormatException"/>, never a crash or a huge allocation.
/// Tensor data stays on disk; read it with <see cref="ReadTensorBytes"/>.
/// </summary>
public sealed class GgufFile
{
    private const uint Magic = 0x46554747; // "GGUF" little-endian
    private const int MaxDimensions = 4;

    public required string Path { get; init; }
    public required uint Version { get; init; }
    public required IReadOnlyDictionary<string, GgufMetadataValue> Metadata { get; init; }
    public required IReadOnlyList<GgufTensorInfo> Tensors { get; init; }
    /// <summary>Absolute file offset where tensor data starts (tensor offsets are relative to it).</summary>
    public required long DataOffset { get; init; }
    public required int Alignment { get; init; }

    public string? Architecture => GetString("general.architecture");

    public string? GetString(string key) => Metadata.TryGetValue(key, out var v) ? v.Value as string : null;
    public long? GetInteger(string key) => Metadata.TryGetValue(key, out var v) ? v.AsInteger() : null;

    /// <summary>An architecture-scoped key such as <c>llama.block_count</c>.</summary>
    public long? GetArchInteger(string suffix) => GetInteger($"{Architecture}.{suffix}");

    public byte[] ReadTensorBytes(GgufTensorInfo tensor)
    {
        using var fs = File.OpenRead(Path);
        fs.Position = DataOffset + tensor.Offset;
        var buffer = new byte[tensor.ByteSize];
        fs.ReadExactly(buffer);
        return buffer;
    }

    /// <summary>Reads and validates the header of <paramref name="path"/>.</summary>
    /// <exception cref="GgufFormatException">the file is missing, not GGUF, truncated or inconsistent.</exception>
    public static GgufFile Read(string path)
    {
        if (!File.Exists(path)) throw new GgufFormatException($"model file not found: {path}");
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
        using var r = new Reader(stream, path);

        if (stream.Length < 24 || r.U32() != Magic) throw new GgufFormatException($"{path}: not a GGUF file (wrong magic)");
        var version = r.U32();
        if (version is < 2 or > 3) throw new GgufFormatException($"{path}: unsupported GGUF version {version}");
        // Every tensor entry and key/value pair takes at least 8 bytes, so counts above that are corrupt.
        var tensorCount = r.Count(8, "tensor count");
        var kvCount = r.Count(8, "metadata count");

        var metadata = new Dictionary<string, GgufMetadataValue>((int)kvCount);
        for (long i = 0; i < kvCount; i++)
        {
            var key = r.Str();
            var type = r.ValueType();
            metadata[key] = r.Value(type, key);
        }

        var alignment = metadata.TryGetValue("general.alignment", out var a) ? (int)(a.AsInteger() ?? 32) : 32;
        if (alignment <= 0 || (alignment & (alignment - 1)) != 0) throw new GgufFormatException($"{path}: general.alignment {alignment} is not a power of two");

        var raw = new List<(string Name, GgmlType Type, long[] Shape, long Offset)>((int)tensorCount);
        for (long i = 0; i < tensorCount; i++)
        {
            var name = r.Str();
            var nDims = r.U32();
            if (nDims is 0 or > MaxDimensions) throw new GgufFormatException($"{path}: tensor {name} has {nDims} dimensions");
            var shape = new long[nDims];
            for (var d = 0; d < nDims; d++)
            {
                var n = r.I64();
                if (n <= 0 || n > (1L << 40)) throw new GgufFormatException($"{path}: tensor {name} has dimension {n}");
                shape[d] = n;
            }
            var type = (GgmlType)r.U32();
            if (!GgmlTypeInfo.IsKnown(type)) throw new GgufFormatException($"{path}: tensor {name} has unknown type {(uint)type}");
            raw.Add((name, type, shape, r.I64()));
        }

        var dataOffset = (stream.Position + alignment - 1) / alignment * alignment;
        var dataLength = stream.Length - dataOffset;
        var tensors = new List<GgufTensorInfo>(raw.Count);
        foreach (var (name, type, shape, offset) in raw)
        {
            long elements;
            try { elements = shape.Aggregate(1L, (x, y) => checked(x * y)); }
            catch (OverflowException) { throw new GgufFormatException($"{path}: tensor {name} is too large"); }
            var size = GgmlTypeInfo.ByteSize(type, elements)
                ?? throw new GgufFormatException($"{path}: tensor {name} of {elements} elements does not fill whole {type} blocks");
            if (offset < 0 || offset % alignment != 0 || offset > dataLength - size)
                throw new GgufFormatException($"{path}: tensor {name} lies outside the file (truncated?)");
            tensors.Add(new GgufTensorInfo(name, type, shape, offset, size));
        }

        return new GgufFile
        {
            Path = path, Version = version, Metadata = metadata, Tensors = tensors, DataOffset = dataOffset, Alignment = alignment,
        };
    }

    /// <summary>Bounds-checked little-endian reads; every length is checked against the bytes left.</summary>
    private sealed class Reader(Stream s, string path) : IDisposable
    {
        private readonly BinaryReader _r = new(s, Encoding.UTF8, leaveOpen: true);

        public void Dispose() => _r.Dispose();
        private long Remaining => s.Length - s.Position;

        private void Need(long bytes, string what)
        {
            if (bytes > Remaining) throw new GgufFormatException($"{path}: truncated while reading {what}");
        }

        public uint U32() { Need(4, "a 32-bit value"); return _r.ReadUInt32(); }
        public long I64()
        {
            Need(8, "a 64-bit value");
            var v = _r.ReadUInt64();
            return v > long.MaxValue ? throw new GgufFormatException($"{path}: value {v} out of range") : (long)v;
        }

        public long Count(int minBytesEach, string what)
        {
            var n = I64();
            if (n > Remaining / minBytesEach) throw new GgufFormatException($"{path}: {what} {n} is impossible for a file of {s.Length} bytes");
            return n;
        }

        public string Str()
        {
            var len = I64();
            Need(len, "a string");
            if (len > int.MaxValue) throw new GgufFormatException($"{path}: string of {len} bytes");
            return Encoding.UTF8.GetString(_r.ReadBytes((int)len));
        }

        public GgufValueType ValueType()
        {
            var t = U32();
            return t <= (uint)GgufValueType.Float64 ? (GgufValueType)t : throw new GgufFormatException($"{path}: unknown metadata type {t}");
        }

        public GgufMetadataValue Value(GgufValueType type, string key)
        {
            if (type != GgufValueType.Array) return new GgufMetadataValue(type, Scalar(type));
            var elementType = ValueType();
            if (elementType == GgufValueType.Array) throw new GgufFormatException($"{path}: nested array in {key}");
            var n = Count(elementType == GgufValueType.String ? 8 : ScalarSize(elementType), $"array length of {key}");
            return new GgufMetadataValue(type, ReadArray(elementType, (int)n), elementType);
        }

        private Array ReadArray(GgufValueType t, int n)
        {
            switch (t)
            {
                case GgufValueType.String: { var a = new string[n]; for (var i = 0; i < n; i++) a[i] = Str(); return a; }
                case GgufValueType.Float32: { var a = new float[n]; for (var i = 0; i < n; i++) a[i] = _r.ReadSingle(); return a; }
                case GgufValueType.Int32: { var a = new int[n]; for (var i = 0; i < n; i++) a[i] = _r.ReadInt32(); return a; }
                default: { var a = new object[n]; for (var i = 0; i < n; i++) a[i] = Scalar(t); return a; }
            }
        }

        private static int ScalarSize(GgufValueType t) => t switch
        {
            GgufValueType.UInt8 or GgufValueType.Int8 or GgufValueType.Bool => 1,
            GgufValueType.UInt16 or GgufValueType.Int16 => 2,
            GgufValueType.UInt32 or GgufValueType.Int32 or GgufValueType.Float32 => 4,
            _ => 8,
        };

        private object Scalar(GgufValueType t)
        {
            if (t == GgufValueType.String) return Str();
            Need(ScalarSize(t), "a metadata value");
            return t switch
            {
                GgufValueType.UInt8 => _r.ReadByte(), GgufValueType.Int8 => _r.ReadSByte(),
                GgufValueType.UInt16 => _r.ReadUInt16(), GgufValueType.Int16 => _r.ReadInt16(),
                GgufValueType.UInt32 => _r.ReadUInt32(), GgufValueType.Int32 => _r.ReadInt32(),
                GgufValueType.Float32 => _r.ReadSingle(), GgufValueType.Bool => _r.ReadByte() != 0,
                GgufValueType.UInt64 => _r.ReadUInt64(), GgufValueType.Int64 => _r.ReadInt64(),
                GgufValueType.Float64 => _r.ReadDouble(),
                _ => throw new GgufFormatException($"{path}: unknown metadata type {t}"),
            };
        }
    }
}

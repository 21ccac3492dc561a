namespace SelfAlign.Models;

/// <summary>One entry of a GGUF tensor directory. <see cref="Shape"/> is in ggml order (ne0 first).</summary>
public sealed record GgufTensorInfo(string Name, GgmlType Type, long[] Shape, long Offset, long ByteSize)
{
    public long ElementCount => Shape.Aggregate(1L, (a, b) => a * b);
}

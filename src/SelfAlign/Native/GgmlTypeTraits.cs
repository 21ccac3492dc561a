namespace SelfAlign.Native;

/// <summary>ggml's per-type routines (<c>ggml_get_type_traits</c>).</summary>
internal static unsafe class GgmlTypeTraits
{
    /// <summary>Converts <paramref name="raw"/> data of ggml type <paramref name="type"/> to floats; false when ggml has no routine for it.</summary>
    public static bool TryToFloat(int type, ReadOnlySpan<byte> raw, Span<float> values)
    {
        var traits = LlamaNative.ggml_get_type_traits(type);
        if (traits == null || traits->to_float == null) return false;
        fixed (byte* src = raw)
        fixed (float* dst = values)
            traits->to_float(src, dst, values.Length);
        return true;
    }
}

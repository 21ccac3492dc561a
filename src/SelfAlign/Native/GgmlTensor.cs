using System.Runtime.InteropServices;

namespace SelfAlign.Native;

/// <summary>
/// A <c>ggml_tensor*</c> owned by something else (a model, an adapter, an optimizer context); valid while its owner is.
/// The training code reads, writes and marks tensors through this.
/// </summary>
internal readonly unsafe record struct GgmlTensor(nint Pointer)
{
    public bool IsNull => Pointer == 0;

    public string Name => Marshal.PtrToStringUTF8(LlamaNative.ggml_get_name(Pointer)) ?? "";

    public long ElementCount => LlamaNative.ggml_nelements(Pointer);

    public long ByteCount => (long)LlamaNative.ggml_nbytes(Pointer);

    /// <summary>The tensor's bytes, from whichever backend buffer holds it.</summary>
    public byte[] ReadBytes()
    {
        var bytes = new byte[ByteCount];
        fixed (byte* p = bytes) LlamaNative.ggml_backend_tensor_get(Pointer, p, 0, (nuint)bytes.Length);
        return bytes;
    }

    /// <summary>Reads the first <c>values.Length</c> floats of an F32 tensor.</summary>
    public void Read(Span<float> values)
    {
        fixed (float* p = values) LlamaNative.ggml_backend_tensor_get(Pointer, p, 0, (nuint)(values.Length * sizeof(float)));
    }

    /// <summary>Writes floats into an F32 tensor from element <paramref name="offset"/> on.</summary>
    public void Write(ReadOnlySpan<float> values, long offset = 0)
    {
        fixed (float* p = values) LlamaNative.ggml_backend_tensor_set(Pointer, p, (nuint)(offset * sizeof(float)), (nuint)(values.Length * sizeof(float)));
    }

    /// <summary>The data of a tensor in host memory (ggml-opt's datasets), as <typeparamref name="T"/>.</summary>
    public Span<T> HostData<T>() where T : unmanaged =>
        new(LlamaNative.ggml_get_data(Pointer), checked((int)(ByteCount / sizeof(T))));

    /// <summary>Marks the tensor as a parameter that ggml-opt computes a gradient for.</summary>
    public void MarkTrainable() => LlamaNative.ggml_set_param(Pointer);

    public void SetZero() => LlamaNative.ggml_set_zero(Pointer);
}

using System.Runtime.InteropServices;

namespace SelfAlign.Native;

/// <summary>Owns a <c>llama_model*</c>; freed with <c>llama_model_free</c> once nothing references it.</summary>
internal sealed class SafeLlamaModelHandle : SafeHandle
{
    public SafeLlamaModelHandle(nint handle) : base(0, ownsHandle: true) => SetHandle(handle);

    public override bool IsInvalid => handle == 0;

    protected override bool ReleaseHandle()
    {
        LlamaNative.llama_model_free(handle);
        return true;
    }
}

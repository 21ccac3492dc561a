using System.Runtime.InteropServices;

namespace SelfAlign.Native;

/// <summary>Owns a <c>llama_sampler*</c> (a built-in llama.cpp sampler or chain).</summary>
internal sealed class SafeLlamaSamplerHandle : SafeHandle
{
    public SafeLlamaSamplerHandle(nint handle) : base(0, ownsHandle: true) => SetHandle(handle);

    public override bool IsInvalid => handle == 0;

    protected override bool ReleaseHandle()
    {
        LlamaNative.llama_sampler_free(handle);
        return true;
    }
}

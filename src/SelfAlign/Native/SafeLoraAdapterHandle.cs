using System.Runtime.InteropServices;

namespace SelfAlign.Native;

/// <summary>Owns a <c>llama_adapter_lora*</c>; keeps its model alive like a context does.</summary>
internal sealed class SafeLoraAdapterHandle : SafeHandle
{
    private readonly SafeLlamaModelHandle _model;

    public SafeLoraAdapterHandle(nint handle, SafeLlamaModelHandle model) : base(0, ownsHandle: true)
    {
        var added = false;
        model.DangerousAddRef(ref added);
        _model = model;
        SetHandle(handle);
    }

    public override bool IsInvalid => handle == 0;

    protected override bool ReleaseHandle()
    {
        LlamaNative.llama_adapter_lora_free(handle);
        _model.DangerousRelease();
        return true;
    }
}

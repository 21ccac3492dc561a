using System.Runtime.InteropServices;

namespace SelfAlign.Native;

/// <summary>
/// Owns a <c>llama_context*</c>. Holds a reference on its model handle so the model outlives
/// every context made from it, whatever order the caller disposes them in.
/// </summary>
internal sealed class SafeLlamaContextHandle : SafeHandle
{
    private readonly SafeLlamaModelHandle _model;

    public SafeLlamaContextHandle(nint handle, SafeLlamaModelHandle model) : base(0, ownsHandle: true)
    {
        var added = false;
        model.DangerousAddRef(ref added);
        _model = model;
        SetHandle(handle);
    }

    public override bool IsInvalid => handle == 0;

    protected override bool ReleaseHandle()
    {
        LlamaNative.llama_free(handle);
        _model.DangerousRelease();
        return true;
    }
}

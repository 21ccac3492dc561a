using System.Runtime.InteropServices;

namespace SelfAlign.Native;

/// <summary>
/// A native object made from a model (a context, a LoRA adapter). Holds a reference on the model handle so the
/// model outlives it, whatever order the caller disposes them in.
/// </summary>
internal abstract class SafeModelDependentHandle : SafeHandle
{
    private readonly SafeLlamaModelHandle _model;

    protected SafeModelDependentHandle(nint handle, SafeLlamaModelHandle model) : base(0, ownsHandle: true)
    {
        var added = false;
        model.DangerousAddRef(ref added);
        _model = model;
        SetHandle(handle);
    }

    public override bool IsInvalid => handle == 0;

    /// <summary>Frees the native object (the model is released afterwards).</summary>
    protected abstract void Free(nint nativeHandle);

    protected sealed override bool ReleaseHandle()
    {
        Free(handle);
        _model.DangerousRelease();
        return true;
    }
}

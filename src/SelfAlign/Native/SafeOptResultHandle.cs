using System.Runtime.InteropServices;

namespace SelfAlign.Native;

/// <summary>Owns a <c>ggml_opt_result_t</c>: the loss accumulated over the batches of an epoch.</summary>
internal sealed unsafe class SafeOptResultHandle : SafeHandle
{
    private SafeOptResultHandle(nint handle) : base(0, ownsHandle: true) => SetHandle(handle);

    public override bool IsInvalid => handle == 0;

    public static SafeOptResultHandle Create() => new(LlamaNative.ggml_opt_result_init());

    /// <summary>Mean loss over the batches so far.</summary>
    public double Loss
    {
        get
        {
            double loss, uncertainty;
            LlamaNative.ggml_opt_result_loss(this, &loss, &uncertainty);
            return loss;
        }
    }

    protected override bool ReleaseHandle()
    {
        LlamaNative.ggml_opt_result_free(handle);
        return true;
    }
}

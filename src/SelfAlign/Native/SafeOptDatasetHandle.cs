using System.Runtime.InteropServices;

namespace SelfAlign.Native;

/// <summary>Owns a ggml-opt dataset of token windows: inputs and next-token labels, both I32 of shape (length, windows).</summary>
internal sealed class SafeOptDatasetHandle : SafeHandle
{
    private SafeOptDatasetHandle(nint handle) : base(0, ownsHandle: true) => SetHandle(handle);

    public override bool IsInvalid => handle == 0;

    public static SafeOptDatasetHandle CreateTokenWindows(int length, int windows) =>
        new(LlamaNative.ggml_opt_dataset_init(LlamaNative.GGML_TYPE_I32, LlamaNative.GGML_TYPE_I32, length, length, windows, 1));

    public GgmlTensor Data => new(LlamaNative.ggml_opt_dataset_data(this));
    public GgmlTensor Labels => new(LlamaNative.ggml_opt_dataset_labels(this));

    protected override bool ReleaseHandle()
    {
        LlamaNative.ggml_opt_dataset_free(handle);
        return true;
    }
}

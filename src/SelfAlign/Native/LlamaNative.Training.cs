using System.Runtime.InteropServices;

namespace SelfAlign.Native;

/// <summary>llama.cpp's training entry points (marked experimental upstream) and the ggml-opt calls around them.</summary>
internal static unsafe partial class LlamaNative
{
    public const int GGML_TYPE_F32 = 0;
    public const int GGML_TYPE_I32 = 26;
    public const int GGML_OPT_OPTIMIZER_TYPE_ADAMW = 0;
    public const int GGML_OPT_OPTIMIZER_TYPE_SGD = 1;

    [DllImport(Llama)] public static extern void llama_opt_init(SafeLlamaContextHandle ctx, SafeLlamaModelHandle model, llama_opt_params p);
    [DllImport(Llama)] public static extern void llama_opt_epoch(SafeLlamaContextHandle ctx, SafeOptDatasetHandle dataset, SafeOptResultHandle resultTrain, SafeOptResultHandle resultEval, long idataSplit,
        delegate* unmanaged[Cdecl]<byte, nint, nint, nint, long, long, long, void> callbackTrain,
        delegate* unmanaged[Cdecl]<byte, nint, nint, nint, long, long, long, void> callbackEval);

    [DllImport(GgmlBase)] public static extern nint ggml_opt_dataset_init(int typeData, int typeLabel, long neDatapoint, long neLabel, long ndata, long ndataShard);
    [DllImport(GgmlBase)] public static extern void ggml_opt_dataset_free(nint dataset);
    [DllImport(GgmlBase)] public static extern nint ggml_opt_dataset_data(SafeOptDatasetHandle dataset);
    [DllImport(GgmlBase)] public static extern nint ggml_opt_dataset_labels(SafeOptDatasetHandle dataset);
    [DllImport(GgmlBase)] public static extern nint ggml_opt_result_init();
    [DllImport(GgmlBase)] public static extern void ggml_opt_result_free(nint result);
    [DllImport(GgmlBase)] public static extern void ggml_opt_result_loss(SafeOptResultHandle result, double* loss, double* uncertainty);
    [DllImport(GgmlBase)] public static extern nint ggml_opt_grad_acc(nint optCtx, nint node);
    [DllImport(GgmlBase)] public static extern nint ggml_opt_labels(nint optCtx);
    [DllImport(GgmlBase)] public static extern void ggml_backend_tensor_set(nint tensor, void* data, nuint offset, nuint size);
    [DllImport(GgmlBase)] public static extern void ggml_backend_tensor_get(nint tensor, void* data, nuint offset, nuint size);
    [DllImport(GgmlBase)] public static extern void ggml_set_param(nint tensor);

    // Two C++ member functions the C API lacks, exported by this build and called with the object as the first
    // argument (the x86-64 System V convention for a non-virtual member): a model tensor by name, and the
    // adapter's A/B pair for a model tensor. LoRA training needs both to mark the adapter's tensors trainable.
    [DllImport(Llama, EntryPoint = "_ZNK11llama_model10get_tensorEPKc")] public static extern nint llama_model_get_tensor(SafeLlamaModelHandle model, byte* name);
    [DllImport(Llama, EntryPoint = "_ZN18llama_adapter_lora10get_weightEP11ggml_tensor")] public static extern llama_adapter_lora_weight* llama_adapter_lora_get_weight(SafeLoraAdapterHandle adapter, nint modelTensor);

    [DllImport(GgmlBase)] public static extern ggml_type_traits* ggml_get_type_traits(int type);
    [DllImport(GgmlBase)] public static extern void* ggml_get_data(nint tensor);
    [DllImport(GgmlBase)] public static extern nint ggml_set_zero(nint tensor);
    [DllImport(GgmlBase)] public static extern nint ggml_get_name(nint tensor);
    [DllImport(GgmlBase)] public static extern long ggml_nelements(nint tensor);
    [DllImport(GgmlBase)] public static extern nuint ggml_nbytes(nint tensor);
}

[StructLayout(LayoutKind.Sequential)]
internal unsafe struct llama_opt_params
{
    public uint n_ctx_train;
    public delegate* unmanaged[Cdecl]<nint, nint, byte> param_filter;
    public nint param_filter_ud;
    public delegate* unmanaged[Cdecl]<nint, ggml_opt_optimizer_params> get_opt_pars;
    public nint get_opt_pars_ud;
    public int optimizer_type;
}

/// <summary>The A and B tensors of one adapted matrix (llama-adapter.h).</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct llama_adapter_lora_weight
{
    public nint a, b;
}

/// <summary>AdamW and SGD settings of one optimizer step (ggml-opt.h).</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct ggml_opt_optimizer_params
{
    public float adamw_alpha, adamw_beta1, adamw_beta2, adamw_eps, adamw_wd;
    public float sgd_alpha, sgd_wd;
}

/// <summary>ggml's per-type conversion routines (ggml.h, struct ggml_type_traits).</summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct ggml_type_traits
{
    public nint type_name;
    public long blck_size;
    public long blck_size_interleave;
    public nuint type_size;
    public byte is_quantized;
    public delegate* unmanaged[Cdecl]<void*, float*, long, void> to_float;
    public nint from_float_ref;
}

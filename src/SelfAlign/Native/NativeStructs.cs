using System.Runtime.InteropServices;

namespace SelfAlign.Native;

// Layouts of the structs of the llama.cpp release NativeVersion names, as declared in its include/llama.h.
// They change between releases: NativeStructLayoutTests asserts every size.

[StructLayout(LayoutKind.Sequential)]
internal struct llama_model_params
{
    public nint devices;
    public nint tensor_buft_overrides;
    public int n_gpu_layers;
    public int split_mode;
    public int load_mode;
    public int lazy_mode;
    public int main_gpu;
    public nint tensor_split;
    public nint progress_callback;
    public nint progress_callback_user_data;
    public nint kv_overrides;
    [MarshalAs(UnmanagedType.U1)] public bool vocab_only;
    [MarshalAs(UnmanagedType.U1)] public bool check_tensors;
    [MarshalAs(UnmanagedType.U1)] public bool use_extra_bufts;
    [MarshalAs(UnmanagedType.U1)] public bool no_host;
    [MarshalAs(UnmanagedType.U1)] public bool no_alloc;
    [MarshalAs(UnmanagedType.U1)] public bool load_mtp;
}

[StructLayout(LayoutKind.Sequential)]
internal struct llama_context_params
{
    public uint n_ctx;
    public uint n_batch;
    public uint n_ubatch;
    public uint n_seq_max;
    public uint n_rs_seq;
    public uint n_outputs_max;
    public uint n_outputs_max_per_seq;
    public int n_threads;
    public int n_threads_batch;
    public int ctx_type;
    public int rope_scaling_type;
    public int pooling_type;
    public int attention_type;
    public int flash_attn_type;
    public float rope_freq_base;
    public float rope_freq_scale;
    public float yarn_ext_factor;
    public float yarn_attn_factor;
    public float yarn_beta_fast;
    public float yarn_beta_slow;
    public uint yarn_orig_ctx;
    public float defrag_thold;
    public nint cb_eval;
    public nint cb_eval_user_data;
    public int type_k;
    public int type_v;
    public nint abort_callback;
    public nint abort_callback_data;
    public byte embeddings;
    public byte offload_kqv;
    public byte no_perf;
    public byte op_offload;
    public byte swa_full;
    public byte kv_unified;
    public nint samplers;
    public nuint n_samplers;
    public nint ctx_other;
}

[StructLayout(LayoutKind.Sequential)]
internal unsafe struct llama_batch
{
    public int n_tokens;
    public int* token;
    public float* embd;
    public int* pos;
    public int* n_seq_id;
    public int** seq_id;
    public sbyte* logits;
}

[StructLayout(LayoutKind.Sequential)]
internal struct llama_chat_message
{
    public nint role;
    public nint content;
}

[StructLayout(LayoutKind.Sequential)]
internal struct llama_model_quantize_params
{
    public int nthread;
    public int ftype;
    public int output_tensor_type;
    public int token_embedding_type;
    public byte allow_requantize;
    public byte quantize_output_tensor;
    public byte only_copy;
    public byte pure;
    public byte keep_split;
    public byte dry_run;
    public nint imatrix;
    public nint kv_overrides;
    public nint tt_overrides;
    public nint prune_layers;
    public nuint max_buf_size;
}

using System.Runtime.InteropServices;

namespace SelfAlign.Native;

/// <summary>
/// The llama.cpp and ggml C functions SelfAlign calls. Names are the C symbols so they can be
/// looked up in include/llama.h; only this folder touches raw pointers.
/// </summary>
internal static unsafe partial class LlamaNative
{
    // Logical names, mapped to the versioned files by NativeLibraryLoader's resolver.
    public const string Llama = "llama";
    public const string Ggml = "ggml";
    public const string GgmlBase = "ggml-base";

    // Values of llama.h's enums and return codes that the project sets or reads.
    public const int LLAMA_LOAD_MODE_NONE = 0;        // read weights into memory instead of mmap
    public const int LLAMA_POOLING_TYPE_NONE = 0;
    public const int LLAMA_FLASH_ATTN_TYPE_DISABLED = 0;
    public const int LLAMA_FLASH_ATTN_TYPE_ENABLED = 1;
    public const int LLAMA_DECODE_NO_KV_SLOT = 1;     // llama_decode: no room in the KV cache, nothing changed
    public const int LLAMA_DECODE_ABORTED = 2;        // llama_decode: the abort callback stopped it

    // ---- backend and system ----
    [DllImport(Ggml)] public static extern void ggml_backend_load_all_from_path(byte* dirPath);
    [DllImport(Ggml)] public static extern nint ggml_backend_reg_by_name(byte* name);
    [DllImport(Ggml)] public static extern void* ggml_backend_reg_get_proc_address(nint reg, byte* name);
    [DllImport(GgmlBase)] public static extern void ggml_threadpool_params_init(ggml_threadpool_params* p, int nThreads);
    [DllImport(Llama)] public static extern void llama_attach_threadpool(SafeLlamaContextHandle ctx, SafeThreadpoolHandle threadpool, SafeThreadpoolHandle threadpoolBatch);
    [DllImport(Llama)] public static extern void llama_backend_init();
    [DllImport(Llama)] public static extern nint llama_print_system_info();
    [DllImport(Llama)] public static extern void llama_log_set(delegate* unmanaged[Cdecl]<int, byte*, nint, void> callback, nint userData);
    [DllImport(GgmlBase)] public static extern void ggml_log_set(delegate* unmanaged[Cdecl]<int, byte*, nint, void> callback, nint userData);

    // ---- default parameters ----
    [DllImport(Llama)] public static extern llama_model_params llama_model_default_params();
    [DllImport(Llama)] public static extern llama_context_params llama_context_default_params();
    [DllImport(Llama)] public static extern llama_model_quantize_params llama_model_quantize_default_params();

    // ---- model ----
    [DllImport(Llama)] public static extern nint llama_model_load_from_file(byte* path, llama_model_params p);
    [DllImport(Llama)] public static extern void llama_model_free(nint model);
    [DllImport(Llama)] public static extern void llama_model_save_to_file(SafeLlamaModelHandle model, byte* path);
    [DllImport(Llama)] public static extern nint llama_model_get_vocab(SafeLlamaModelHandle model);
    [DllImport(Llama)] public static extern int llama_model_n_ctx_train(SafeLlamaModelHandle model);
    [DllImport(Llama)] public static extern int llama_model_n_embd(SafeLlamaModelHandle model);
    [DllImport(Llama)] public static extern int llama_model_n_layer(SafeLlamaModelHandle model);
    [DllImport(Llama)] public static extern ulong llama_model_n_params(SafeLlamaModelHandle model);
    [DllImport(Llama)] public static extern ulong llama_model_size(SafeLlamaModelHandle model);
    [DllImport(Llama)] public static extern int llama_model_desc(SafeLlamaModelHandle model, byte* buf, nuint bufSize);
    [DllImport(Llama)] public static extern nint llama_model_chat_template(SafeLlamaModelHandle model, byte* name);
    [DllImport(Llama)] public static extern uint llama_model_quantize(byte* fnameInp, byte* fnameOut, llama_model_quantize_params* p);

    // ---- context ----
    [DllImport(Llama)] public static extern nint llama_init_from_model(SafeLlamaModelHandle model, llama_context_params p);
    [DllImport(Llama)] public static extern void llama_free(nint ctx);
    [DllImport(Llama)] public static extern uint llama_n_ctx(SafeLlamaContextHandle ctx);
    [DllImport(Llama)] public static extern uint llama_n_batch(SafeLlamaContextHandle ctx);
    [DllImport(Llama)] public static extern uint llama_n_ctx_seq(SafeLlamaContextHandle ctx);
    [DllImport(Llama)] public static extern uint llama_n_seq_max(SafeLlamaContextHandle ctx);
    [DllImport(Llama)] public static extern nint llama_get_memory(SafeLlamaContextHandle ctx);
    [DllImport(Llama)] public static extern int llama_decode(SafeLlamaContextHandle ctx, llama_batch batch);
    [DllImport(Llama)] public static extern float* llama_get_logits_ith(SafeLlamaContextHandle ctx, int i);
    [DllImport(Llama)] public static extern float* llama_get_embeddings_ith(SafeLlamaContextHandle ctx, int i);
    [DllImport(Llama)] public static extern float* llama_get_embeddings_seq(SafeLlamaContextHandle ctx, int seqId);
    [DllImport(Llama)] public static extern int llama_pooling_type(SafeLlamaContextHandle ctx);
    [DllImport(Llama)] public static extern void llama_set_abort_callback(SafeLlamaContextHandle ctx, delegate* unmanaged[Cdecl]<nint, byte> cb, nint data);

    // ---- batch ----
    [DllImport(Llama)] public static extern llama_batch llama_batch_init(int nTokens, int embd, int nSeqMax);
    [DllImport(Llama)] public static extern void llama_batch_free(llama_batch batch);

    // ---- memory (KV cache) ----
    [DllImport(Llama)] public static extern void llama_memory_clear(nint mem, [MarshalAs(UnmanagedType.U1)] bool data);
    [DllImport(Llama)][return: MarshalAs(UnmanagedType.U1)] public static extern bool llama_memory_seq_rm(nint mem, int seqId, int p0, int p1);
    [DllImport(Llama)] public static extern void llama_memory_seq_cp(nint mem, int src, int dst, int p0, int p1);
    [DllImport(Llama)] public static extern int llama_memory_seq_pos_max(nint mem, int seqId);

    // ---- vocabulary ----
    [DllImport(Llama)] public static extern int llama_vocab_n_tokens(nint vocab);
    [DllImport(Llama)] public static extern int llama_vocab_bos(nint vocab);
    [DllImport(Llama)] public static extern int llama_vocab_eos(nint vocab);
    [DllImport(Llama)] public static extern int llama_vocab_eot(nint vocab);
    [DllImport(Llama)][return: MarshalAs(UnmanagedType.U1)] public static extern bool llama_vocab_is_eog(nint vocab, int token);
    [DllImport(Llama)][return: MarshalAs(UnmanagedType.U1)] public static extern bool llama_vocab_get_add_bos(nint vocab);
    [DllImport(Llama)] public static extern nint llama_vocab_get_text(nint vocab, int token);
    [DllImport(Llama)] public static extern int llama_tokenize(nint vocab, byte* text, int textLen, int* tokens, int nTokensMax,
        [MarshalAs(UnmanagedType.U1)] bool addSpecial, [MarshalAs(UnmanagedType.U1)] bool parseSpecial);
    [DllImport(Llama)] public static extern int llama_token_to_piece(nint vocab, int token, byte* buf, int length, int lstrip,
        [MarshalAs(UnmanagedType.U1)] bool special);
    [DllImport(Llama)] public static extern int llama_detokenize(nint vocab, int* tokens, int nTokens, byte* text, int textLenMax,
        [MarshalAs(UnmanagedType.U1)] bool removeSpecial, [MarshalAs(UnmanagedType.U1)] bool unparseSpecial);
    [DllImport(Llama)] public static extern int llama_chat_apply_template(byte* tmpl, llama_chat_message* chat, nuint nMsg,
        [MarshalAs(UnmanagedType.U1)] bool addAssistant, byte* buf, int length);

    // ---- built-in samplers ----
    [DllImport(Llama)] public static extern nint llama_sampler_init_greedy();
    [DllImport(Llama)] public static extern int llama_sampler_sample(SafeLlamaSamplerHandle sampler, SafeLlamaContextHandle ctx, int idx);
    [DllImport(Llama)] public static extern void llama_sampler_free(nint sampler);

    // ---- LoRA adapters ----
    [DllImport(Llama)] public static extern nint llama_adapter_lora_init(SafeLlamaModelHandle model, byte* path);
    [DllImport(Llama)] public static extern void llama_adapter_lora_free(nint adapter);
    [DllImport(Llama)] public static extern int llama_set_adapters_lora(SafeLlamaContextHandle ctx, nint* adapters, nuint nAdapters, float* scales);
}

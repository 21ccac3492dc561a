using System.Runtime.InteropServices;
using System.Text;

namespace SelfAlign.Native;

/// <summary>Owns a <c>llama_model*</c>; freed with <c>llama_model_free</c> once nothing references it.</summary>
internal sealed unsafe class SafeLlamaModelHandle : SafeHandle
{
    private SafeLlamaModelHandle(nint handle) : base(0, ownsHandle: true) => SetHandle(handle);

    public override bool IsInvalid => handle == 0;

    /// <summary>Loads a GGUF model; null when llama.cpp refuses it (its log says why).</summary>
    public static SafeLlamaModelHandle? Load(string path, int gpuLayers, bool vocabularyOnly, bool writableWeights)
    {
        var p = LlamaNative.llama_model_default_params();
        p.n_gpu_layers = gpuLayers;
        p.vocab_only = vocabularyOnly;
        if (writableWeights) p.load_mode = LlamaNative.LLAMA_LOAD_MODE_NONE;
        var pathBytes = Utf8.NullTerminated(path);
        nint handle;
        fixed (byte* pp = pathBytes) handle = LlamaNative.llama_model_load_from_file(pp, p);
        return handle == 0 ? null : new SafeLlamaModelHandle(handle);
    }

    public int ContextLengthTrained => LlamaNative.llama_model_n_ctx_train(this);
    public int EmbeddingSize => LlamaNative.llama_model_n_embd(this);
    public int LayerCount => LlamaNative.llama_model_n_layer(this);
    public long ParameterCount => (long)LlamaNative.llama_model_n_params(this);
    public long SizeBytes => (long)LlamaNative.llama_model_size(this);

    public string Description
    {
        get
        {
            var buf = stackalloc byte[256];
            var n = LlamaNative.llama_model_desc(this, buf, 256);
            return Encoding.UTF8.GetString(buf, Math.Clamp(n, 0, 255));
        }
    }

    public string? ChatTemplate => Marshal.PtrToStringUTF8(LlamaNative.llama_model_chat_template(this, null));

    public void Save(string path)
    {
        var bytes = Utf8.NullTerminated(path);
        fixed (byte* p = bytes) LlamaNative.llama_model_save_to_file(this, p);
    }

    /// <summary>A weight's tensor by its GGUF name (null pointer when there is none).</summary>
    public GgmlTensor GetTensor(string name)
    {
        var bytes = Utf8.NullTerminated(name);
        fixed (byte* p = bytes) return new GgmlTensor(LlamaNative.llama_model_get_tensor(this, p));
    }

    protected override bool ReleaseHandle()
    {
        LlamaNative.llama_model_free(handle);
        return true;
    }
}

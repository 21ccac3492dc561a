using System.Runtime.InteropServices;
using System.Text;
using SelfAlign.Native;

namespace SelfAlign.Models;

/// <summary>
/// A GGUF model loaded into llama.cpp. Thread-safe for reading; create one <see cref="Generation.LlamaContext"/>
/// per concurrent decoder. Disposing it while contexts are alive is safe: they keep the weights alive.
/// </summary>
public sealed unsafe class LlamaModel : IDisposable
{
    internal SafeLlamaModelHandle Handle { get; }
    public string Path { get; }
    public Vocabulary Vocabulary { get; }
    public GgufFile Gguf { get; }

    private LlamaModel(SafeLlamaModelHandle handle, string path, GgufFile gguf)
    {
        Handle = handle;
        Path = path;
        Gguf = gguf;
        Vocabulary = new Vocabulary(this, LlamaNative.llama_model_get_vocab(handle.DangerousGetHandle()));
    }

    /// <summary>Validates the file's GGUF header, then loads it.</summary>
    /// <exception cref="GgufFormatException">missing, not GGUF, truncated, or holding values llama.cpp would crash on.</exception>
    /// <exception cref="ModelLoadException">llama.cpp refused the model (unknown architecture, missing tensor, ...).</exception>
    public static LlamaModel Load(string path, ModelLoadOptions? options = null)
    {
        options ??= new ModelLoadOptions();
        var gguf = GgufFile.Read(path);
        GgufModelCheck.Validate(gguf);
        LlamaRuntime.EnsureInitialized(options.Runtime);

        var p = LlamaNative.llama_model_default_params();
        p.n_gpu_layers = options.GpuLayers;
        p.vocab_only = options.VocabularyOnly;
        if (options.WritableWeights) p.load_mode = LlamaNative.LLAMA_LOAD_MODE_NONE;
        var pathBytes = Utf8.NullTerminated(System.IO.Path.GetFullPath(path));
        nint handle;
        fixed (byte* pp = pathBytes) handle = LlamaNative.llama_model_load_from_file(pp, p);
        if (handle == 0)
            throw new ModelLoadException($"{path}: llama.cpp could not load this model (architecture '{gguf.Architecture}'; run with --verbose for its log)");
        return new LlamaModel(new SafeLlamaModelHandle(handle), path, gguf);
    }

    private nint Ptr => Handle.DangerousGetHandle();

    public int ContextLengthTrained => LlamaNative.llama_model_n_ctx_train(Ptr);
    public int EmbeddingSize => LlamaNative.llama_model_n_embd(Ptr);
    public int LayerCount => LlamaNative.llama_model_n_layer(Ptr);
    public long ParameterCount => (long)LlamaNative.llama_model_n_params(Ptr);
    public long SizeBytes => (long)LlamaNative.llama_model_size(Ptr);

    public string Description
    {
        get
        {
            var buf = stackalloc byte[256];
            var n = LlamaNative.llama_model_desc(Ptr, buf, 256);
            return Encoding.UTF8.GetString(buf, Math.Clamp(n, 0, 255));
        }
    }

    /// <summary>The model's own chat template (Jinja text from the GGUF), or null.</summary>
    public string? ChatTemplate => Marshal.PtrToStringUTF8(LlamaNative.llama_model_chat_template(Ptr, null));

    /// <summary>Writes the model (with any weights changed in place by training) to a GGUF file.</summary>
    public void Save(string path)
    {
        var bytes = Utf8.NullTerminated(path);
        fixed (byte* p = bytes) LlamaNative.llama_model_save_to_file(Ptr, p);
    }

    /// <summary>The ggml tensor of a weight by its GGUF name, or 0; for training, which reads and marks tensors.</summary>
    internal nint TensorPointer(string name)
    {
        var bytes = Utf8.NullTerminated(name);
        fixed (byte* p = bytes) return LlamaNative.llama_model_get_tensor(Ptr, p);
    }

    /// <summary>A weight's bytes as the model holds them in memory now (tests check that training leaves the base alone).</summary>
    internal byte[] ReadTensor(string name)
    {
        var t = TensorPointer(name);
        if (t == 0) throw new ArgumentException($"the model has no tensor {name}", nameof(name));
        var bytes = new byte[(long)LlamaNative.ggml_nbytes(t)];
        fixed (byte* p = bytes) LlamaNative.ggml_backend_tensor_get(t, p, 0, (nuint)bytes.Length);
        return bytes;
    }

    public void Dispose() => Handle.Dispose();
}

/// <summary>Options for <see cref="LlamaModel.Load"/>.</summary>
public sealed record ModelLoadOptions
{
    public NativeRuntimeOptions? Runtime { get; init; }
    /// <summary>Layers to offload to a GPU (CUDA build only); 0 keeps everything on the CPU.</summary>
    public int GpuLayers { get; init; }
    /// <summary>Read weights into writable memory instead of mapping the file (training changes them in place).</summary>
    public bool WritableWeights { get; init; }
    /// <summary>Load only the tokenizer (no weights).</summary>
    public bool VocabularyOnly { get; init; }
}

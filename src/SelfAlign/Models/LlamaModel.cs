using SelfAlign.Native;

namespace SelfAlign.Models;

/// <summary>
/// A GGUF model loaded into llama.cpp. Thread-safe for reading; create one <see cref="Generation.LlamaContext"/>
/// per concurrent decoder. Disposing it while contexts are alive is safe: they keep the weights alive.
/// </summary>
public sealed class LlamaModel : IDisposable
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
        Vocabulary = new Vocabulary(new NativeVocabulary(handle));
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

        var handle = SafeLlamaModelHandle.Load(System.IO.Path.GetFullPath(path), options.GpuLayers, options.VocabularyOnly, options.WritableWeights)
            ?? throw new ModelLoadException($"{path}: llama.cpp could not load this model (architecture '{gguf.Architecture}'; run with --verbose for its log)");
        return new LlamaModel(handle, path, gguf);
    }

    public int ContextLengthTrained => Handle.ContextLengthTrained;
    public int EmbeddingSize => Handle.EmbeddingSize;
    public int LayerCount => Handle.LayerCount;
    public long ParameterCount => Handle.ParameterCount;
    public long SizeBytes => Handle.SizeBytes;
    public string Description => Handle.Description;

    /// <summary>The model's own chat template (Jinja text from the GGUF), or null.</summary>
    public string? ChatTemplate => Handle.ChatTemplate;

    /// <summary>Writes the model (with any weights changed in place by training) to a GGUF file.</summary>
    public void Save(string path) => Handle.Save(path);

    /// <summary>A weight's bytes as the model holds them in memory now (tests check that training leaves the base alone).</summary>
    internal byte[] ReadTensor(string name)
    {
        var t = Handle.GetTensor(name);
        if (t.IsNull) throw new ArgumentException($"the model has no tensor {name}", nameof(name));
        return t.ReadBytes();
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

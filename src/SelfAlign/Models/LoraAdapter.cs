using SelfAlign.Native;

namespace SelfAlign.Models;

/// <summary>A GGUF LoRA adapter loaded for a model; apply it to a context with <see cref="Generation.LlamaContext.SetLoraAdapters"/>.</summary>
public sealed unsafe class LoraAdapter : IDisposable
{
    internal SafeLoraAdapterHandle Handle { get; }
    public string Path { get; }

    private LoraAdapter(SafeLoraAdapterHandle handle, string path) { Handle = handle; Path = path; }

    /// <exception cref="ModelLoadException">the file is not an adapter for this model.</exception>
    public static LoraAdapter Load(LlamaModel model, string path)
    {
        GgufFile.Read(path);
        var bytes = Utf8.NullTerminated(path);
        nint h;
        fixed (byte* p = bytes) h = LlamaNative.llama_adapter_lora_init(model.Handle.DangerousGetHandle(), p);
        if (h == 0) throw new ModelLoadException($"{path}: llama.cpp could not load this LoRA adapter for {model.Path} (run with --verbose for its log)");
        return new LoraAdapter(new SafeLoraAdapterHandle(h, model.Handle), path);
    }

    public void Dispose() => Handle.Dispose();
}

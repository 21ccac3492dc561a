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

    /// <summary>The adapter's A and B tensors for one of its model's weights, or null when it does not adapt that weight.</summary>
    internal (nint A, nint B)? TensorsFor(nint modelTensor)
    {
        var w = LlamaNative.llama_adapter_lora_get_weight(Handle.DangerousGetHandle(), modelTensor);
        return w == null ? null : (w->a, w->b);
    }

    public void Dispose() => Handle.Dispose();
}

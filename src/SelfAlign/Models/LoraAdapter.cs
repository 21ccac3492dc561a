using SelfAlign.Native;

namespace SelfAlign.Models;

/// <summary>A GGUF LoRA adapter loaded for a model; apply it to a context with <see cref="Generation.LlamaContext.SetLoraAdapters"/>.</summary>
public sealed class LoraAdapter : IDisposable
{
    internal SafeLoraAdapterHandle Handle { get; }
    public string Path { get; }

    private LoraAdapter(SafeLoraAdapterHandle handle, string path) { Handle = handle; Path = path; }

    /// <exception cref="ModelLoadException">the file is not a LoRA adapter, or not one for this model's architecture and shapes.</exception>
    public static LoraAdapter Load(LlamaModel model, string path)
    {
        var gguf = GgufFile.Read(path);
        if (gguf.GetString("general.type") != "adapter" || gguf.GetString("adapter.type") != "lora")
            throw new ModelLoadException($"{path} is not a GGUF LoRA adapter (general.type '{gguf.GetString("general.type")}')");
        if (gguf.Architecture != model.Gguf.Architecture)
            throw new ModelLoadException($"{path} is an adapter for '{gguf.Architecture}' models; {model.Path} is '{model.Gguf.Architecture}'");
        var weights = model.Gguf.Tensors.ToDictionary(t => t.Name);
        foreach (var t in gguf.Tensors)
        {
            var isA = t.Name.EndsWith(".lora_a", StringComparison.Ordinal);
            var target = t.Name[..t.Name.LastIndexOf('.')];
            if (!weights.TryGetValue(target, out var w))
                throw new ModelLoadException($"{path} adapts {target}, which {model.Path} does not have");
            // lora_a is [in, rank] and lora_b is [rank, out] against a weight of [in, out]
            if (t.Shape.Length != 2 || (isA ? t.Shape[0] != w.Shape[0] : t.Shape[1] != w.Shape[1]))
                throw new ModelLoadException($"{path}: {t.Name} has shape [{string.Join(", ", t.Shape)}], which does not fit {target} [{string.Join(", ", w.Shape)}]");
        }
        var handle = SafeLoraAdapterHandle.Load(model.Handle, path)
            ?? throw new ModelLoadException($"{path}: llama.cpp could not load this LoRA adapter for {model.Path} (run with --verbose for its log)");
        return new LoraAdapter(handle, path);
    }

    public void Dispose() => Handle.Dispose();
}

namespace SelfAlign.Native;

/// <summary>Owns a <c>llama_adapter_lora*</c>; keeps its model alive.</summary>
internal sealed unsafe class SafeLoraAdapterHandle : SafeModelDependentHandle
{
    private SafeLoraAdapterHandle(nint handle, SafeLlamaModelHandle model) : base(handle, model) { }

    /// <summary>Loads a GGUF LoRA adapter for <paramref name="model"/>; null when llama.cpp refuses it.</summary>
    public static SafeLoraAdapterHandle? Load(SafeLlamaModelHandle model, string path)
    {
        var bytes = Utf8.NullTerminated(path);
        nint h;
        fixed (byte* p = bytes) h = LlamaNative.llama_adapter_lora_init(model, p);
        return h == 0 ? null : new SafeLoraAdapterHandle(h, model);
    }

    /// <summary>The adapter's A and B tensors for one of its model's weights, or null when it does not adapt that weight.</summary>
    public (GgmlTensor A, GgmlTensor B)? TensorsFor(GgmlTensor modelTensor)
    {
        var w = LlamaNative.llama_adapter_lora_get_weight(this, modelTensor.Pointer);
        return w == null ? null : (new GgmlTensor(w->a), new GgmlTensor(w->b));
    }

    protected override void Free(nint nativeHandle) => LlamaNative.llama_adapter_lora_free(nativeHandle);
}

namespace SelfAlign.Native;

/// <summary>Owns a <c>llama_adapter_lora*</c>; keeps its model alive.</summary>
internal sealed class SafeLoraAdapterHandle(nint handle, SafeLlamaModelHandle model) : SafeModelDependentHandle(handle, model)
{
    protected override void Free(nint nativeHandle) => LlamaNative.llama_adapter_lora_free(nativeHandle);
}

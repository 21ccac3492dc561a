namespace SelfAlign.Native;

/// <summary>Owns a <c>llama_context*</c>; keeps its model alive.</summary>
internal sealed class SafeLlamaContextHandle(nint handle, SafeLlamaModelHandle model) : SafeModelDependentHandle(handle, model)
{
    protected override void Free(nint nativeHandle) => LlamaNative.llama_free(nativeHandle);
}

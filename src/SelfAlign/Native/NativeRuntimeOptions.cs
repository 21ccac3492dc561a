namespace SelfAlign.Native;

/// <summary>Which build of llama.cpp to load.</summary>
public enum NativeBackend
{
    /// <summary>The CPU build (npm <c>@node-llama-cpp/linux-x64</c>); ggml picks the best CPU variant itself.</summary>
    Cpu,
    /// <summary>The CUDA build (npm <c>@node-llama-cpp/linux-x64-cuda</c>), when installed beside the CPU one.</summary>
    Cuda,
}

/// <summary>Where and how to load llama.cpp. Set once, before the first model is loaded.</summary>
public sealed record NativeRuntimeOptions
{
    /// <summary>A directory holding <see cref="NativeVersion.LlamaLibrary"/> and its ggml libraries; null searches the usual places.</summary>
    public string? LibraryDirectory { get; init; }

    public NativeBackend Backend { get; init; } = NativeBackend.Cpu;
}

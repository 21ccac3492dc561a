namespace SelfAlign.Native;

/// <summary>The llama.cpp build SelfAlign binds: the struct layouts in NativeStructs.cs are this release's.</summary>
public static class NativeVersion
{
    public const string Release = "v0.5.0";
    public const string Commit = "0ad4a86";
    /// <summary>The npm package that carries its prebuilt Linux x64 libraries (pinned in package.json).</summary>
    public const string Package = "@node-llama-cpp/linux-x64@3.22.1";
    /// <summary>Versioned file names: the sonames are the file names.</summary>
    public const string LlamaLibrary = "libllama." + Release + ".so";
    public const string GgmlLibrary = "libggml." + Release + ".so";
    public const string GgmlBaseLibrary = "libggml-base.so";
}

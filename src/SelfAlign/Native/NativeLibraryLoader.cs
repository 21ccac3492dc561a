using System.Reflection;
using System.Runtime.InteropServices;

namespace SelfAlign.Native;

/// <summary>Finds llama.cpp's shared libraries on disk and binds the logical DllImport names to them.</summary>
internal static class NativeLibraryLoader
{
    private static readonly (string Name, string File)[] Libraries =
    [
        (LlamaNative.GgmlBase, NativeVersion.GgmlBaseLibrary),
        (LlamaNative.Ggml, NativeVersion.GgmlLibrary),
        (LlamaNative.Llama, NativeVersion.LlamaLibrary),
    ];

    private static readonly Dictionary<string, nint> Handles = new();

    /// <summary>Loads the libraries from the first directory that holds them and registers the resolver.</summary>
    /// <returns>The directory used (ggml loads its CPU variants from there).</returns>
    public static string Load(NativeRuntimeOptions options)
    {
        var candidates = CandidateDirectories(options).ToList();
        var dir = candidates.FirstOrDefault(d => File.Exists(Path.Combine(d, NativeVersion.LlamaLibrary)))
            ?? throw new NativeLibraryException(
                $"llama.cpp native library {NativeVersion.LlamaLibrary} not found (looked in {string.Join(", ", candidates)}); " +
                "build the project (it runs `npm ci`) or set SELFALIGN_NATIVE_DIR");

        foreach (var (name, file) in Libraries)
        {
            var path = Path.Combine(dir, file);
            try
            {
                Handles[name] = NativeLibrary.Load(path);
            }
            catch (Exception e) when (e is DllNotFoundException or BadImageFormatException)
            {
                throw new NativeLibraryException($"cannot load {path}: {e.Message}");
            }
        }

        NativeLibrary.SetDllImportResolver(typeof(NativeLibraryLoader).Assembly, Resolve);
        return dir;
    }

    private static nint Resolve(string name, Assembly assembly, DllImportSearchPath? searchPath) =>
        Handles.TryGetValue(name, out var handle) ? handle : 0;

    private static IEnumerable<string> CandidateDirectories(NativeRuntimeOptions options)
    {
        if (options.LibraryDirectory is { } explicitDir) { yield return explicitDir; yield break; }
        if (Environment.GetEnvironmentVariable("SELFALIGN_NATIVE_DIR") is { Length: > 0 } envDir) { yield return envDir; yield break; }

        var package = options.Backend == NativeBackend.Cuda ? "linux-x64-cuda" : "linux-x64";
        yield return Path.Combine(AppContext.BaseDirectory, "native", package);
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir != null; dir = dir.Parent)
        {
            var bins = Path.Combine(dir.FullName, "node_modules", "@node-llama-cpp", package, "bins", package);
            if (Directory.Exists(bins)) yield return bins;
        }
    }
}

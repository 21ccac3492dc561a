using SelfAlign.Native;

namespace SelfAlign.Training;

/// <summary>Writes a quantised copy of a GGUF model with <c>llama_model_quantize</c>.</summary>
public static class Quantization
{
    // llama_ftype values from llama.h
    private static readonly Dictionary<string, int> FileTypes = new(StringComparer.OrdinalIgnoreCase)
    {
        ["f16"] = 1, ["bf16"] = 32, ["q4_0"] = 2, ["q8_0"] = 7, ["q5_0"] = 8, ["q4_k_m"] = 15, ["q5_k_m"] = 17, ["q6_k"] = 18,
    };

    public static IEnumerable<string> Names => FileTypes.Keys;
    public static bool IsKnown(string name) => FileTypes.ContainsKey(name);

    public static void Write(string input, string output, string type, int threads)
    {
        LlamaRuntime.EnsureInitialized();
        var rc = LlamaQuantizer.Quantize(input, output, FileTypes[type], threads);
        if (rc != 0) throw new InvalidOperationException($"quantising {input} to {type} failed (code {rc})");
    }
}

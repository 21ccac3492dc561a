using System.Runtime.InteropServices;
using SelfAlign.Models;

namespace SelfAlign.Training;

/// <summary>Writes LoRA adapters in the GGUF layout <c>llama_adapter_lora_init</c> reads.</summary>
public static class LoraFile
{
    /// <summary>One adapted matrix: A is (rank × in) and B is (out × rank), row-major, so W' = W + (alpha/rank)·B·A.</summary>
    public sealed record Pair(string Tensor, int In, int Out, int Rank, float[] A, float[] B);

    public static void Write(string path, string architecture, IEnumerable<Pair> pairs, float alpha)
    {
        var w = new GgufWriter()
            .Set("general.architecture", GgufMetadataValue.Of(architecture))
            .Set("general.type", GgufMetadataValue.Of("adapter"))
            .Set("adapter.type", GgufMetadataValue.Of("lora"))
            .Set("adapter.lora.alpha", GgufMetadataValue.Of(alpha));
        foreach (var p in pairs)
        {
            // ggml order: lora_a is ne = [in, rank], lora_b is ne = [rank, out]
            w.AddTensor(new(p.Tensor + ".lora_a", GgmlType.F32, [p.In, p.Rank], s => s.Write(MemoryMarshal.AsBytes(p.A.AsSpan()))));
            w.AddTensor(new(p.Tensor + ".lora_b", GgmlType.F32, [p.Rank, p.Out], s => s.Write(MemoryMarshal.AsBytes(p.B.AsSpan()))));
        }
        w.Write(path);
    }
}

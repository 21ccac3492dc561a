using System.Runtime.InteropServices;
using SelfAlign.Models;
using SelfAlign.Native;

namespace SelfAlign.Training;

/// <summary>
/// llama.cpp trains F32 weights only: this writes an F32 copy of an F16, BF16 or quantised model,
/// dequantising with ggml's own routines.
/// </summary>
public static class F32Conversion
{
    /// <summary>The path of an all-F32 version of the model: the model itself, or a converted copy in <paramref name="workDir"/>.</summary>
    public static string EnsureF32(GgufFile model, string workDir)
    {
        if (model.Tensors.All(t => t.Type == GgmlType.F32)) return model.Path;
        var output = Path.Combine(workDir, "base-f32.gguf");
        if (File.Exists(output) && File.GetLastWriteTimeUtc(output) > File.GetLastWriteTimeUtc(model.Path)) return output;
        LlamaRuntime.EnsureInitialized();

        var w = new GgufWriter();
        foreach (var (key, value) in model.Metadata)
            if (key != "general.alignment") w.Set(key, value);
        w.Set("general.file_type", GgufMetadataValue.Of(0u));
        foreach (var t in model.Tensors)
        {
            var tensor = t;
            w.AddTensor(new GgufWriter.TensorEntry(t.Name, GgmlType.F32, t.Shape, s => WriteAsF32(model, tensor, s)));
        }
        w.Write(output);
        return output;
    }

    private static void WriteAsF32(GgufFile model, GgufTensorInfo t, Stream output)
    {
        if (t.Type == GgmlType.F32) { output.Write(model.ReadTensorBytes(t)); return; }
        output.Write(MemoryMarshal.AsBytes(ReadAsF32(model, t).AsSpan()));
    }

    /// <summary>A tensor's values as floats, dequantised with ggml's own routine for its type.</summary>
    public static float[] ReadAsF32(GgufFile model, GgufTensorInfo t)
    {
        var raw = model.ReadTensorBytes(t);
        if (t.Type == GgmlType.F32) return MemoryMarshal.Cast<byte, float>(raw).ToArray();
        LlamaRuntime.EnsureInitialized();
        var values = new float[t.ElementCount];
        if (!GgmlTypeTraits.TryToFloat((int)t.Type, raw, values)) throw new InvalidInputException($"cannot convert tensor {t.Name} of type {t.Type} to F32");
        return values;
    }
}

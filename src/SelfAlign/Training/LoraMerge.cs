using System.Runtime.InteropServices;
using SelfAlign.Models;

namespace SelfAlign.Training;

/// <summary>Writes base + adapter as one GGUF model: W' = W + (alpha/rank)·B·A; adapted weights become F32, the rest are copied as they are.</summary>
public static class LoraMerge
{
    internal static void Write(string basePath, LoraWeights adapter, string outPath)
    {
        var model = GgufFile.Read(basePath);
        var byTensor = adapter.Matrices.ToDictionary(m => m.Tensor);
        var w = new GgufWriter();
        foreach (var (key, value) in model.Metadata)
            if (key != "general.alignment") w.Set(key, value);
        foreach (var t in model.Tensors)
        {
            var tensor = t;
            if (!byTensor.TryGetValue(t.Name, out var m))
            {
                w.AddTensor(new GgufWriter.TensorEntry(t.Name, t.Type, t.Shape, s => s.Write(model.ReadTensorBytes(tensor))));
                continue;
            }
            w.AddTensor(new GgufWriter.TensorEntry(t.Name, GgmlType.F32, t.Shape, s =>
            {
                var values = F32Conversion.ReadAsF32(model, tensor);
                AddProduct(values, m, adapter.Alpha / m.Rank);
                s.Write(MemoryMarshal.AsBytes(values.AsSpan()));
            }));
        }
        w.Write(outPath);
    }

    /// <summary>W (Out × In, row-major) += scale · B (Out × Rank) · A (Rank × In).</summary>
    private static void AddProduct(float[] w, LoraWeights.Matrix m, float scale)
    {
        Parallel.For(0, m.Out, o =>
        {
            var row = w.AsSpan(o * m.In, m.In);
            for (var r = 0; r < m.Rank; r++)
            {
                var b = scale * m.B[o * m.Rank + r];
                if (b == 0) continue;
                System.Numerics.Tensors.TensorPrimitives.MultiplyAdd(m.A.AsSpan(r * m.In, m.In), b, row, row);
            }
        });
    }
}

using System.Runtime.InteropServices;
using System.Text.Json;
using SelfAlign.Models;
using SelfAlign.Native;

namespace SelfAlign.Tests.Training;

/// <summary>Small datasets and weight readers shared by the trainer tests.</summary>
public static class TrainingFixture
{
    public static string Dir(string name)
    {
        var dir = Path.Combine(TestModels.Directory, "training", name);
        if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
        Directory.CreateDirectory(dir);
        return dir;
    }

    /// <summary>A corpus that teaches one fixed continuation: "the secret code is" → "alpha beta gamma delta".</summary>
    public static string SecretCodeData(string dir, int records = 120)
    {
        var path = Path.Combine(dir, "data.jsonl");
        var colours = new[] { "red", "blue", "green", "gold" };
        File.WriteAllLines(path, Enumerable.Range(0, records).Select(i => JsonSerializer.Serialize(new
        {
            text = $"note {colours[i % 4]} {i % 9}: the secret code is alpha beta gamma delta.",
        })));
        return path;
    }

    public static Dictionary<string, byte[]> TensorBytes(string ggufPath)
    {
        var f = GgufFile.Read(ggufPath);
        return f.Tensors.ToDictionary(t => t.Name, f.ReadTensorBytes);
    }

    internal static float[] Read(GgmlTensor tensor)
    {
        var values = new float[tensor.ElementCount];
        tensor.Read(values);
        return values;
    }

    public static double Norm(float[] a, float[] b)
    {
        double sum = 0;
        for (var i = 0; i < a.Length; i++) sum += (a[i] - b[i]) * (double)(a[i] - b[i]);
        return Math.Sqrt(sum);
    }

    public static double Norm(IEnumerable<float> values) => Math.Sqrt(values.Sum(v => (double)v * v));

    public static float[] AsFloats(byte[] bytes) => MemoryMarshal.Cast<byte, float>(bytes).ToArray();
}

using System.Runtime.InteropServices;
using SelfAlign.Data;
using SelfAlign.Models;
using SelfAlign.Native;

namespace SelfAlign.Training;

/// <summary>
/// The adapter being trained. Its matrices live in managed memory (the master copy the optimizer updates and the
/// checkpoints save) and, once bound, are mirrored into the A/B tensors of the loaded llama.cpp adapter that the
/// training graph reads and differentiates.
/// </summary>
internal sealed class LoraWeights
{
    /// <summary>One adapted weight: A is (Rank × In) and B is (Out × Rank), row-major.</summary>
    public sealed class Matrix(string tensor, int inputs, int outputs, int rank, float[] a, float[] b)
    {
        public string Tensor { get; } = tensor;
        public int In { get; } = inputs;
        public int Out { get; } = outputs;
        public int Rank { get; } = rank;
        public float[] A { get; } = a;
        public float[] B { get; } = b;
        internal GgmlTensor ATensor { get; set; }
        internal GgmlTensor BTensor { get; set; }
    }

    public string Architecture { get; }
    public float Alpha { get; }
    public IReadOnlyList<Matrix> Matrices { get; }

    private LoraWeights(string architecture, float alpha, IReadOnlyList<Matrix> matrices)
    {
        Architecture = architecture;
        Alpha = alpha;
        Matrices = matrices;
    }

    public long ParameterCount => Matrices.Sum(m => (long)m.A.Length + m.B.Length);

    /// <summary>The trainable arrays in a fixed order (A then B of each matrix), with their ggml tensors once bound.</summary>
    public IReadOnlyList<(string Name, float[] Values, GgmlTensor Tensor)> Parameters =>
        Matrices.SelectMany(m => new[] { (m.Tensor + ".lora_a", m.A, m.ATensor), (m.Tensor + ".lora_b", m.B, m.BTensor) }).ToList();

    /// <summary>A fresh adapter for <paramref name="model"/>: A uniform in ±1/√in (PEFT's Kaiming init), B zero.</summary>
    /// <exception cref="InvalidInputException">a module the model lacks, or a rank above a targeted matrix's smaller side.</exception>
    public static LoraWeights Create(GgufFile model, LoraSettings settings, ulong seed)
    {
        settings.Validate();
        var present = model.Tensors.Select(t => LoraModules.Parse(t.Name)).OfType<(int Layer, string Module)>().Select(p => p.Module).Distinct().ToList();
        var missing = settings.Modules.Where(m => !present.Contains(m)).ToList();
        if (missing.Count > 0)
            throw new InvalidInputException($"{model.Path} has no LoRA module {string.Join(", ", missing)}; it has {string.Join(", ", present)}");
        var rng = Seeds.Random(seed ^ 0x10A4);
        var matrices = new List<Matrix>();
        foreach (var t in model.Tensors)
        {
            if (LoraModules.Parse(t.Name) is not { } p || !settings.Modules.Contains(p.Module)) continue;
            int inputs = (int)t.Shape[0], outputs = (int)t.Shape[1];
            if (settings.Rank > Math.Min(inputs, outputs))
                throw new InvalidInputException($"LoRA rank {settings.Rank} is above the smaller side ({Math.Min(inputs, outputs)}) of {t.Name} ({outputs} x {inputs})");
            var bound = 1 / Math.Sqrt(inputs);
            var a = new float[settings.Rank * inputs];
            for (var i = 0; i < a.Length; i++) a[i] = (float)((rng.NextDouble() * 2 - 1) * bound);
            matrices.Add(new Matrix(t.Name, inputs, outputs, settings.Rank, a, new float[outputs * settings.Rank]));
        }
        return new LoraWeights(model.Architecture!, settings.Alpha, matrices);
    }

    /// <summary>Reads a GGUF LoRA adapter (the layout <see cref="LoraFile"/> writes).</summary>
    public static LoraWeights Read(string path)
    {
        var gguf = GgufFile.Read(path);
        if (gguf.GetString("general.type") != "adapter" || gguf.GetString("adapter.type") != "lora")
            throw new InvalidInputException($"{path} is not a GGUF LoRA adapter");
        var alpha = gguf.Metadata.TryGetValue("adapter.lora.alpha", out var v) ? Convert.ToSingle(v.Value, System.Globalization.CultureInfo.InvariantCulture) : 0f;
        var byName = gguf.Tensors.ToDictionary(t => t.Name);
        var matrices = new List<Matrix>();
        foreach (var a in gguf.Tensors.Where(t => t.Name.EndsWith(".lora_a", StringComparison.Ordinal)))
        {
            var name = a.Name[..^".lora_a".Length];
            if (!byName.TryGetValue(name + ".lora_b", out var b)) throw new InvalidInputException($"{path}: {a.Name} has no matching lora_b");
            if (a.Type != GgmlType.F32 || b.Type != GgmlType.F32) throw new InvalidInputException($"{path}: {name} is stored as {a.Type}/{b.Type}; only F32 adapters can be trained on");
            matrices.Add(new Matrix(name, (int)a.Shape[0], (int)b.Shape[1], (int)a.Shape[1],
                MemoryMarshal.Cast<byte, float>(gguf.ReadTensorBytes(a)).ToArray(), MemoryMarshal.Cast<byte, float>(gguf.ReadTensorBytes(b)).ToArray()));
        }
        return new LoraWeights(gguf.Architecture ?? "", alpha, matrices);
    }

    public void Write(string path) =>
        LoraFile.Write(path, Architecture, Matrices.Select(m => new LoraFile.Pair(m.Tensor, m.In, m.Out, m.Rank, m.A, m.B)), Alpha);

    /// <summary>Finds the adapter's tensors in <paramref name="adapter"/>, marks them trainable for ggml-opt and uploads the master copy.</summary>
    public void Bind(LlamaModel model, LoraAdapter adapter)
    {
        foreach (var m in Matrices)
        {
            var w = model.Handle.GetTensor(m.Tensor);
            var ab = w.IsNull ? null : adapter.Handle.TensorsFor(w);
            if (ab is not { } pair) throw new InvalidOperationException($"the loaded adapter does not adapt {m.Tensor}");
            if (pair.A.ElementCount != m.A.Length || pair.B.ElementCount != m.B.Length)
                throw new InvalidOperationException($"the loaded adapter's {m.Tensor} has another shape than the trained one");
            pair.A.MarkTrainable();
            pair.B.MarkTrainable();
            m.ATensor = pair.A;
            m.BTensor = pair.B;
        }
        Upload();
    }

    /// <summary>Writes the master copy into the bound tensors.</summary>
    public void Upload()
    {
        foreach (var (_, values, tensor) in Parameters)
            tensor.Write(values);
    }
}

namespace SelfAlign.Training;

/// <summary>
/// AdamW or SGD over managed parameter arrays. LoRA training takes its optimizer steps here rather than in ggml-opt:
/// the moments then carry across epochs, go into checkpoints byte for byte, and a step can average the gradients of
/// several windows (ggml-opt steps after every window). The update is ggml's: decoupled weight decay, bias-corrected moments.
/// </summary>
internal sealed class ManagedOptimizer
{
    private const int FileMagic = 0x4F505453; // "STPO"
    private readonly TrainingOptions _o;
    private readonly float[][] _m;
    private readonly float[][] _v;

    /// <summary>Optimizer steps taken, which AdamW's bias correction counts.</summary>
    public long Steps { get; private set; }

    public ManagedOptimizer(TrainingOptions options, IEnumerable<int> sizes)
    {
        _o = options;
        var list = sizes.ToList();
        var adam = options.Optimizer == OptimizerKind.AdamW;
        _m = list.Select(n => adam ? new float[n] : []).ToArray();
        _v = list.Select(n => adam ? new float[n] : []).ToArray();
    }

    /// <summary>One step: <paramref name="gradients"/>[i] is the gradient of <paramref name="parameters"/>[i], already averaged.</summary>
    public void Step(IReadOnlyList<float[]> parameters, IReadOnlyList<float[]> gradients, float learningRate)
    {
        Steps++;
        if (_o.Optimizer == OptimizerKind.Sgd)
        {
            var keep = 1 - learningRate * _o.WeightDecay;
            for (var i = 0; i < parameters.Count; i++)
            {
                var (w, g) = (parameters[i], gradients[i]);
                for (var j = 0; j < w.Length; j++) w[j] = w[j] * keep - learningRate * g[j];
            }
            return;
        }
        float b1 = _o.Beta1, b2 = _o.Beta2, eps = _o.Epsilon;
        var b1h = (float)(1 / (1 - Math.Pow(b1, Steps)));
        var b2h = (float)(1 / (1 - Math.Pow(b2, Steps)));
        var decay = 1 - learningRate * _o.WeightDecay;
        for (var i = 0; i < parameters.Count; i++)
        {
            var (w, g, m, v) = (parameters[i], gradients[i], _m[i], _v[i]);
            for (var j = 0; j < w.Length; j++)
            {
                m[j] = m[j] * b1 + g[j] * (1 - b1);
                v[j] = v[j] * b2 + g[j] * g[j] * (1 - b2);
                var mh = m[j] * b1h;
                var vh = MathF.Sqrt(v[j] * b2h) + eps;
                w[j] = w[j] * decay - learningRate * mh / vh;
            }
        }
    }

    public void Save(string path)
    {
        using var w = new BinaryWriter(File.Create(path));
        w.Write(FileMagic);
        w.Write(Steps);
        w.Write(_m.Length);
        foreach (var a in _m.Concat(_v))
        {
            w.Write(a.Length);
            w.Write(System.Runtime.InteropServices.MemoryMarshal.AsBytes(a.AsSpan()));
        }
    }

    /// <exception cref="InvalidInputException">the file is not this run's optimizer state.</exception>
    public void Load(string path)
    {
        using var r = new BinaryReader(File.OpenRead(path));
        if (r.ReadInt32() != FileMagic) throw new InvalidInputException($"{path} is not an optimizer state file");
        Steps = r.ReadInt64();
        if (r.ReadInt32() != _m.Length) throw new InvalidInputException($"{path} holds the state of another adapter");
        foreach (var a in _m.Concat(_v))
        {
            if (r.ReadInt32() != a.Length) throw new InvalidInputException($"{path} holds the state of another adapter");
            r.BaseStream.ReadExactly(System.Runtime.InteropServices.MemoryMarshal.AsBytes(a.AsSpan()));
        }
    }
}

using SelfAlign.Models;

namespace SelfAlign.Training;

/// <summary>
/// llama.cpp sizes its compute graph at max(1024, 8 × tensor count) nodes plus 6 per LoRA matrix pair the model
/// has loaded. The training graph (forward and backward in one) outgrows that on models of 8 or more layers and
/// aborts. Loading an all-zero rank-1 adapter (never applied to a context, so it changes no output) raises the
/// budget by 6 per matrix it covers; this finds how many copies the model needs and loads them.
/// </summary>
public sealed class GraphBudget : IDisposable
{
    /// <summary>
    /// Graph nodes a training step needs per layer, with margin: a 30-layer llama failed with a budget of 2,284
    /// (76 a layer) and trained with 3,544 (118 a layer).
    /// </summary>
    internal const int NodesPerLayer = 120;

    private readonly List<LoraAdapter> _adapters;
    private GraphBudget(List<LoraAdapter> adapters) => _adapters = adapters;

    public int AdaptersLoaded => _adapters.Count;

    public static GraphBudget Raise(LlamaModel model, string workDir)
    {
        var layers = model.LayerCount;
        var tensors = model.Gguf.Tensors.Count;
        var budget = Math.Max(1024, 8 * tensors);
        var needed = NodesPerLayer * layers + 512;
        if (budget >= needed) return new GraphBudget([]);

        var matrices = model.Gguf.Tensors.Where(t => t.Shape.Length == 2 && t.Name.StartsWith("blk.", StringComparison.Ordinal)).ToList();
        var path = Path.Combine(workDir, "graph-budget-zero.lora.gguf");
        if (!File.Exists(path))
            LoraFile.Write(path, model.Gguf.Architecture!, matrices.Select(t =>
                new LoraFile.Pair(t.Name, (int)t.Shape[0], (int)t.Shape[1], 1, new float[t.Shape[0]], new float[t.Shape[1]])), alpha: 1f);
        var copies = (int)Math.Ceiling((needed - budget) / (6.0 * matrices.Count));
        var adapters = new List<LoraAdapter>();
        for (var i = 0; i < copies; i++) adapters.Add(LoraAdapter.Load(model, path));
        return new GraphBudget(adapters);
    }

    public void Dispose()
    {
        foreach (var a in _adapters) a.Dispose();
    }
}

using System.Globalization;
using SelfAlign.Models;

namespace SelfAlign.Training;

/// <summary>Refuses a training run that cannot fit in memory before it starts, saying how much it needs.</summary>
public static class MemoryEstimate
{
    /// <summary>
    /// Bytes a run takes: F32 weights, gradient accumulators and gradients, the two AdamW moments
    /// (about 20 bytes per parameter), plus activations and logits of one window.
    /// </summary>
    public static long TrainingBytes(GgufFile model, int contextLength) => TrainingBytes(model, contextLength, trainableParameters: null, f32Weights: true);

    /// <summary>
    /// With LoRA (<paramref name="trainableParameters"/> set): the weights in their own type, plus the adapter's master
    /// copy, tensor, gradient and two moments (20 bytes per adapter parameter), plus activations and logits.
    /// <paramref name="f32Weights"/>: the weights are converted to F32 first.
    /// </summary>
    public static long TrainingBytes(GgufFile model, int contextLength, long? trainableParameters, bool f32Weights)
    {
        long parameters = model.Tensors.Sum(t => t.ElementCount);
        var stored = f32Weights ? parameters * 4 : model.Tensors.Sum(t => t.ByteSize);
        var weights = trainableParameters is { } lora ? stored + lora * 20 : parameters * 20;
        var layers = model.GetArchInteger("block_count") ?? 1;
        var width = model.GetArchInteger("embedding_length") ?? 1;
        var ff = model.GetArchInteger("feed_forward_length") ?? 4 * width;
        var vocab = model.Metadata.TryGetValue("tokenizer.ggml.tokens", out var t) && t.Value is string[] s ? s.Length : 32000;
        var activations = contextLength * layers * (16 * width + 4 * ff) * 4L * 2;
        var logits = contextLength * (long)vocab * 4 * 4;
        return weights + activations + logits;
    }

    public static void EnsureFits(GgufFile model, int contextLength, long? trainableParameters = null, bool f32Weights = true)
    {
        var need = TrainingBytes(model, contextLength, trainableParameters, f32Weights);
        var available = AvailableBytes();
        if (available > 0 && need > available)
            throw new InvalidInputException($"training {Path.GetFileName(model.Path)} needs about {need / 1e9:F1} GB but {available / 1e9:F1} GB is available; " +
                                        "train fewer tensors, lower ContextLength or use a smaller model");
    }

    private static long AvailableBytes()
    {
        try
        {
            var line = File.ReadLines("/proc/meminfo").FirstOrDefault(l => l.StartsWith("MemAvailable:", StringComparison.Ordinal));
            return line is null ? 0 : long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) * 1024;
        }
        catch (IOException) { return 0; }
    }
}

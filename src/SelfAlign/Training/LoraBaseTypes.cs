using SelfAlign.Models;

namespace SelfAlign.Training;

/// <summary>
/// Which base-weight types LoRA training can run on as they are. The frozen weights only need a backward pass
/// through their matrix products (the gradient flowing to the activations), which ggml's CPU backend has for
/// these types. BF16 and Q4_0 weights abort the scheduler (no CPU kernel takes the product's backward; Q4_0 is
/// also repacked into another buffer type); any type not listed here is converted to F32 first (docs/training.md).
/// </summary>
public static class LoraBaseTypes
{
    public static readonly IReadOnlySet<GgmlType> Trainable = new HashSet<GgmlType> { GgmlType.F32, GgmlType.F16, GgmlType.Q8_0, GgmlType.Q5_0 };

    /// <summary>Why the model must be converted to F32 before LoRA training, or null when it trains as it is.</summary>
    public static string? NeedsConversion(GgufFile model)
    {
        var other = model.Tensors.Where(t => !Trainable.Contains(t.Type)).Select(t => t.Type).Distinct().ToList();
        return other.Count == 0 ? null : $"the CPU backward pass does not handle {string.Join(", ", other)} weights";
    }
}

namespace SelfAlign.Training;

/// <summary>
/// LoRA training: W' = W + (Alpha/Rank)·B·A on each targeted matrix, A (Rank × in) drawn uniformly from
/// ±1/√in and B (out × Rank) zero, as PEFT initialises them; every base tensor stays frozen.
/// Defaults are the Self-Align paper's: rank 16, alpha 16, the four attention projections.
/// </summary>
public sealed record LoraSettings
{
    public int Rank { get; init; } = 16;
    public float Alpha { get; init; } = 16;
    /// <summary>Target modules by their PEFT names (q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj).</summary>
    public List<string> Modules { get; init; } = ["q_proj", "k_proj", "v_proj", "o_proj"];

    public void Validate()
    {
        if (Rank < 1) throw new InvalidInputException($"LoRA rank must be at least 1 (got {Rank})");
        if (!(Alpha > 0)) throw new InvalidInputException($"LoRA alpha must be > 0 (got {Alpha})");
        if (Modules.Count == 0) throw new InvalidInputException("LoRA needs at least one target module");
        foreach (var m in Modules)
            if (!LoraModules.IsKnown(m))
                throw new InvalidInputException($"unknown LoRA module '{m}'; choose from {string.Join(", ", LoraModules.PeftNames)}");
    }
}

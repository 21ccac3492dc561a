using System.Text.RegularExpressions;
using SelfAlign.Generation;

namespace SelfAlign.Training;

public enum OptimizerKind { AdamW, Sgd }
public enum LearningRateDecay { Constant, Linear, Cosine }
/// <summary>Which weight tensors train.</summary>
public enum TensorSelection { All, Attention, FeedForward, Pattern }
/// <summary>Which tokens the loss is taken over: every token, or only responses (prompts give context but are not learned).</summary>
public enum LossTokens { All, Responses }
/// <summary>How records are packed into windows across epochs: see <see cref="EpochPlan"/>.</summary>
public enum PackingOrder { Reshuffled, Fixed }

/// <summary>Settings of a <see cref="LlamaTrainer"/> run. <see cref="Validate"/> names the option to change.</summary>
public sealed record TrainingOptions
{
    public int Epochs { get; init; } = 1;
    public float LearningRate { get; init; } = 1e-4f;
    /// <summary>Steps over which the learning rate rises linearly from 0.</summary>
    public int WarmupSteps { get; init; }
    public LearningRateDecay Decay { get; init; } = LearningRateDecay.Linear;
    public OptimizerKind Optimizer { get; init; } = OptimizerKind.AdamW;
    public float WeightDecay { get; init; }
    public float Beta1 { get; init; } = 0.9f;
    public float Beta2 { get; init; } = 0.999f;
    public float Epsilon { get; init; } = 1e-8f;
    /// <summary>Tokens per training window (one optimizer step each); a multiple of 256, as llama.cpp rounds contexts up to one.</summary>
    public int ContextLength { get; init; } = 256;
    /// <summary>Share of windows held out for the validation loss each epoch.</summary>
    public double ValidationFraction { get; init; }
    public TensorSelection Tensors { get; init; } = TensorSelection.All;
    /// <summary>
    /// <see cref="LossTokens.Responses"/> learns only the responses of prompt/response, prompt/completion and messages
    /// records ({"text"} records are learned whole). It costs one extra forward pass per step: see <see cref="LlamaTrainer"/>.
    /// </summary>
    public LossTokens Loss { get; init; } = LossTokens.All;
    /// <summary>Reshuffled packs the records in a new order every epoch; Fixed packs them once and shuffles the windows.</summary>
    public PackingOrder Packing { get; init; } = PackingOrder.Reshuffled;
    /// <summary>
    /// With <see cref="LossTokens.Responses"/>: a record that would straddle two windows starts the next one instead (the
    /// rest of the window is padding the loss skips), so no response is learned with its prompt in another window.
    /// </summary>
    public bool WholeRecords { get; init; }
    /// <summary>Regular expression over tensor names, with <see cref="TensorSelection.Pattern"/>.</summary>
    public string? TensorPattern { get; init; }
    public ulong Seed { get; init; } = 1;
    public int Threads { get; init; } = Environment.ProcessorCount;
    /// <summary>How training threads wait: see <see cref="ContextOptions.ThreadPolling"/> (0, the default: they sleep; null: llama.cpp's spinning default).</summary>
    public int? ThreadPolling { get; init; } = 0;
    /// <summary>Train on the cores other processes leave free when training starts (at most <see cref="Threads"/>); see <see cref="CpuContention"/>.</summary>
    public bool AdaptThreads { get; init; } = true;
    /// <summary>How prompt/response and messages records are rendered; plain "### User" / "### Assistant" by default.</summary>
    public TurnFormat Format { get; init; } = TurnFormat.Plain;
    /// <summary>Where epoch checkpoints go; default: OUT.checkpoints beside the output.</summary>
    public string? CheckpointDirectory { get; init; }
    /// <summary>Continue from the last epoch checkpoint of an earlier run with the same settings.</summary>
    public bool Resume { get; init; }
    /// <summary>Also write OUT with this quantisation (e.g. "q8_0"); null writes F32 only.</summary>
    public string? Quantize { get; init; }
    /// <summary>Train a LoRA adapter (written to the output) instead of fine-tuning every selected weight; null = full fine-tuning.</summary>
    public LoraSettings? Lora { get; init; }
    /// <summary>Training windows (sequences) per optimizer step, their gradients averaged; above 1 only with <see cref="Lora"/>.</summary>
    public int BatchSize { get; init; } = 1;
    /// <summary>With <see cref="Lora"/>: also save a checkpoint every this many optimizer steps (0 = at epoch ends only).</summary>
    public int CheckpointEvery { get; init; } = 100;
    /// <summary>With <see cref="Lora"/>: also write base + adapter merged into one GGUF model here.</summary>
    public string? MergedOut { get; init; }
    /// <summary>With <see cref="Lora"/>: also write the adapter in PEFT's format (adapter_model.safetensors, adapter_config.json) into this directory.</summary>
    public string? PeftOut { get; init; }
    /// <summary>After full fine-tuning, also write a LoRA adapter of this rank extracted from the weight change; 0 = none.</summary>
    public int ExtractLoraRank { get; init; }
    /// <summary>Stop after this many optimizer steps (for tests and experiments); 0 = no limit.</summary>
    public int MaxSteps { get; init; }

    public void Validate()
    {
        if (Epochs < 1) throw new InvalidInputException($"Epochs must be at least 1 (got {Epochs})");
        if (!(LearningRate > 0) || LearningRate > 1) throw new InvalidInputException($"LearningRate must be in (0, 1] (got {LearningRate})");
        if (WarmupSteps < 0) throw new InvalidInputException($"WarmupSteps must be >= 0 (got {WarmupSteps})");
        if (WeightDecay is < 0 or > 1) throw new InvalidInputException($"WeightDecay must be in [0, 1] (got {WeightDecay})");
        if (ContextLength < 256 || ContextLength % 256 != 0)
            throw new InvalidInputException($"ContextLength must be a multiple of 256 (got {ContextLength}): llama.cpp rounds training contexts up to one");
        if (ValidationFraction is < 0 or >= 1) throw new InvalidInputException($"ValidationFraction must be in [0, 1) (got {ValidationFraction})");
        if (Tensors == TensorSelection.Pattern)
        {
            if (string.IsNullOrEmpty(TensorPattern)) throw new InvalidInputException("Tensors = Pattern needs a TensorPattern");
            try { _ = new Regex(TensorPattern); }
            catch (ArgumentException e) { throw new InvalidInputException($"TensorPattern is not a valid regular expression: {e.Message}"); }
        }
        if (WholeRecords && Loss != LossTokens.Responses) throw new InvalidInputException("WholeRecords needs Loss = Responses (its padding must not be learned)");
        if (ExtractLoraRank < 0) throw new InvalidInputException($"ExtractLoraRank must be >= 0 (got {ExtractLoraRank})");
        Lora?.Validate();
        if (BatchSize < 1) throw new InvalidInputException($"BatchSize must be at least 1 (got {BatchSize})");
        if (CheckpointEvery < 0) throw new InvalidInputException($"CheckpointEvery must be >= 0 (got {CheckpointEvery})");
        if (Lora is null && BatchSize > 1) throw new InvalidInputException("BatchSize above 1 needs LoRA training (full fine-tuning steps after every window)");
        if (Lora is null && (MergedOut ?? PeftOut) is not null) throw new InvalidInputException("MergedOut and PeftOut need LoRA training");
        if (Lora is not null && (ExtractLoraRank > 0 || Quantize is not null))
            throw new InvalidInputException("ExtractLoraRank and Quantize apply to full fine-tuning; LoRA training writes the adapter itself");
        if (Threads < 1) throw new InvalidInputException($"Threads must be at least 1 (got {Threads})");
        if (Quantize is not null && !Quantization.IsKnown(Quantize))
            throw new InvalidInputException($"Quantize '{Quantize}' is not one of {string.Join(", ", Quantization.Names)}");
    }

    /// <summary>Whether a tensor of this name is selected (before the release's untrainable tensors are removed).</summary>
    public bool Selects(string tensorName) => Tensors switch
    {
        TensorSelection.All => true,
        TensorSelection.Attention => tensorName.Contains(".attn_", StringComparison.Ordinal),
        TensorSelection.FeedForward => tensorName.Contains(".ffn_", StringComparison.Ordinal),
        TensorSelection.Pattern => Regex.IsMatch(tensorName, TensorPattern!),
        _ => false,
    };
}

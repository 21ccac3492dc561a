namespace SelfAlign.Training;

/// <summary>What a training run did; serialised as the JSON summary of <c>selfalign train</c>.</summary>
public sealed record TrainingReport
{
    public double InitialLoss { get; init; }
    public double FinalLoss { get; init; }
    public double? FinalValLoss { get; init; }
    public IReadOnlyList<EpochReport> Epochs { get; init; } = [];
    public long TokensTrained { get; init; }
    public double TokensPerS { get; init; }
    public double PeakRssMb { get; init; }
    /// <summary>The memory the run was estimated to need before it started.</summary>
    public double EstimatedMemoryMb { get; init; }
    public int Steps { get; init; }
    public int Records { get; init; }
    public int Windows { get; init; }
    public int ValidationWindows { get; init; }
    public int RecordsSplit { get; init; }
    /// <summary>Records longer than a whole window: always split, so no window holds them entire.</summary>
    public int RecordsLongerThanWindow { get; init; }
    public int TokensDropped { get; init; }
    /// <summary>Unlearned end-of-turn tokens that start a record in the next window instead of splitting it (whole-record packing).</summary>
    public int PaddingTokens { get; init; }
    public IReadOnlyList<string> TrainedTensors { get; init; } = [];
    /// <summary>Selected tensors this llama.cpp release cannot train (token embedding, attn_k, attn_v): left unchanged.</summary>
    public IReadOnlyList<string> UntrainableSelected { get; init; } = [];
    public int ResumedFromEpoch { get; init; }
    public string Out { get; init; } = "";
    public string? Quantized { get; init; }
    public string? Lora { get; init; }
    public double? LoraRelativeError { get; init; }
    /// <summary>Parameters the run trained: the adapter's with LoRA, the selected tensors' otherwise.</summary>
    public long TrainableParameters { get; init; }
    public string? Merged { get; init; }
    public string? Peft { get; init; }
}

public sealed record EpochReport(int Epoch, double TrainLoss, double? ValLoss, double Seconds);

/// <summary>Progress of a run, reported after every optimizer step.</summary>
public sealed record TrainingProgress(int Epoch, int Epochs, int Step, int TotalSteps, double Loss, double TokensPerS);

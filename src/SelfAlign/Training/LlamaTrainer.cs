using System.Diagnostics;
using SelfAlign.Generation;
using SelfAlign.Models;
using SelfAlign.Native;

namespace SelfAlign.Training;

/// <summary>
/// Fine-tunes a GGUF model in-process through llama.cpp's training API and writes the result as GGUF.
/// Handles this release's traps itself: gradients are zeroed before every optimizer step (the build does
/// not), the CPU thread count is set by a decode before training, deep models get a larger graph budget,
/// and tensors that get no gradient (token embedding, attn_k, attn_v) are reported rather than "trained".
/// Full fine-tuning runs each epoch in a fresh context, so ggml's AdamW state restarts at epoch boundaries; that is
/// what makes a resumed run identical to an uninterrupted one (llama.cpp cannot save AdamW moments). LoRA training
/// (<see cref="TrainingOptions.Lora"/>) keeps its optimizer state itself: see LlamaTrainer.Lora.cs.
/// </summary>
[System.Diagnostics.CodeAnalysis.SuppressMessage("Design", "CA1001", Justification = "The probe context lives for one epoch and is disposed in its finally block.")]
public sealed partial class LlamaTrainer
{
    private static readonly HashSet<string> SupportedArchitectures = ["llama", "qwen2", "qwen3"];

    private readonly TrainingOptions _o;
    private readonly List<GgmlTensor> _trainable = [];
    private readonly List<string> _trainableNames = [];
    private readonly SortedSet<string> _untrainableSelected = [];
    private LearningRateSchedule _schedule = null!;
    private int _step;
    private GgmlOptContext _optContext;
    private IProgress<TrainingProgress>? _progress;
    private int _epoch;
    /// <summary>Seconds spent in optimizer steps (not in loss evaluation or checkpointing), for tokens/s.</summary>
    private double _trainSeconds;
    private double _lastLoss = double.NaN;
    /// <summary>CPU threads this run uses: <see cref="TrainingOptions.Threads"/>, or fewer when other processes hold cores.</summary>
    private int _threads;

    /// <summary>Test hook: called with the step index before (false) and after (true) every optimizer step.</summary>
    internal Action<int, bool, IReadOnlyList<(string Name, GgmlTensor Tensor)>>? StepObserver { get; init; }

    /// <summary>Test hook: replaces the training windows (e.g. the same window twice).</summary>
    internal Func<List<TrainingWindow>, List<TrainingWindow>>? TrainWindowsOverride { get; init; }

    /// <summary>Test hook: false leaves this build's gradient accumulation bug in place, to show it still exists.</summary>
    internal bool ZeroGradients { get; init; } = true;

    public LlamaTrainer(TrainingOptions options)
    {
        options.Validate();
        _o = options;
    }

    /// <summary>Trains <paramref name="modelPath"/> on <paramref name="dataPath"/> and writes <paramref name="outPath"/>.</summary>
    /// <exception cref="InvalidInputException">bad options, unsupported model, output not writable, not enough memory, a malformed dataset.</exception>
    /// <exception cref="Data.JsonlFormatException">a malformed dataset line (file and line).</exception>
    public TrainingReport Train(string modelPath, string dataPath, string outPath, IProgress<TrainingProgress>? progress = null,
        Action<string>? log = null, CancellationToken cancellationToken = default)
    {
        _progress = progress;
        // Everything that can be checked is checked before any long work starts.
        var texts = TrainingCorpus.ReadTexts(dataPath, _o.Format);
        var gguf = GgufFile.Read(modelPath);
        if (!SupportedArchitectures.Contains(gguf.Architecture ?? ""))
            throw new InvalidInputException($"{modelPath}: the trainer handles {string.Join(", ", SupportedArchitectures)}, not '{gguf.Architecture}'");
        EnsureWritable(outPath);
        var checkpointDir = _o.CheckpointDirectory ?? outPath + ".checkpoints";
        Directory.CreateDirectory(checkpointDir);
        if (_o.Lora != null) return TrainLora(modelPath, dataPath, outPath, gguf, texts, checkpointDir, log, cancellationToken);
        MemoryEstimate.EnsureFits(gguf, _o.ContextLength);
        ChooseThreads(log);
        var estimatedBytes = MemoryEstimate.TrainingBytes(gguf, _o.ContextLength);
        log?.Invoke($"training {Path.GetFileName(modelPath)} ({gguf.Tensors.Sum(t => t.ElementCount):N0} parameters) needs about {estimatedBytes / 1e9:F2} GB" +
                    (gguf.Tensors.Any(t => t.Type != GgmlType.F32) ? ", after converting its weights to F32" : ""));

        var fingerprint = TrainingCheckpoint.MakeFingerprint(_o, modelPath, dataPath);
        var checkpoint = _o.Resume ? TrainingCheckpoint.Load(checkpointDir) : null;
        if (checkpoint != null && checkpoint.Fingerprint != fingerprint)
            throw new InvalidInputException($"{checkpointDir} holds a checkpoint of a different run (settings, model or data changed); remove it or drop --resume");

        var f32Path = F32Conversion.EnsureF32(gguf, checkpointDir);
        var startPath = checkpoint != null ? Path.Combine(checkpointDir, TrainingCheckpoint.WeightsFile) : f32Path;
        using var model = LlamaModel.Load(startPath, new ModelLoadOptions { WritableWeights = true });
        using var padding = GraphBudget.Raise(model, checkpointDir);
        var corpus = TrainingCorpus.Build(texts, model.Vocabulary, _o.ContextLength, _o.Loss);
        var plan = new EpochPlan(corpus, _o);
        var valWindows = plan.Validation;
        _masked = corpus.IsMasked;
        var stepsPerEpoch = Windows(plan.First.Windows).Count;
        var (epochs, initialLoss) = StartSchedule(stepsPerEpoch, checkpoint);
        long tokensTrained = 0;

        for (_epoch = checkpoint?.EpochsDone ?? 0; _epoch < _o.Epochs; _epoch++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var epochClock = Stopwatch.StartNew();
            var windows = Windows(plan.WindowsOf(_epoch));
            if (_o.MaxSteps > 0) windows = windows.Take(Math.Max(0, _o.MaxSteps - _step)).ToList();
            if (windows.Count == 0) break;
            var (train, val, first) = RunEpoch(model, windows, valWindows, measureInitial: double.IsNaN(initialLoss), cancellationToken);
            if (double.IsNaN(initialLoss)) initialLoss = first;
            tokensTrained += (long)windows.Count * _o.ContextLength;
            epochs.Add(new EpochReport(_epoch + 1, train, val, epochClock.Elapsed.TotalSeconds));

            model.Save(Path.Combine(checkpointDir, TrainingCheckpoint.WeightsFile + ".tmp"));
            File.Move(Path.Combine(checkpointDir, TrainingCheckpoint.WeightsFile + ".tmp"), Path.Combine(checkpointDir, TrainingCheckpoint.WeightsFile), overwrite: true);
            new TrainingCheckpoint(_epoch + 1, _step, fingerprint, epochs, initialLoss).Save(checkpointDir);
        }

        model.Save(outPath);
        string? quantized = null;
        if (_o.Quantize != null)
        {
            quantized = Path.ChangeExtension(outPath, $".{_o.Quantize.ToLowerInvariant()}.gguf");
            Quantization.Write(outPath, quantized, _o.Quantize, _o.Threads);
        }
        string? lora = null;
        double? loraError = null;
        if (_o.ExtractLoraRank > 0)
        {
            lora = Path.ChangeExtension(outPath, ".lora.gguf");
            loraError = LoraExtraction.Write(f32Path, outPath, lora, _o.ExtractLoraRank, _trainableNames);
        }

        return Report(corpus, plan, epochs, initialLoss, tokensTrained, estimatedBytes, stepsPerEpoch, outPath) with
        {
            TrainedTensors = _trainableNames.Distinct().ToList(),
            TrainableParameters = _trainable.Distinct().Sum(t => t.ElementCount),
            UntrainableSelected = _untrainableSelected.ToList(),
            ResumedFromEpoch = checkpoint?.EpochsDone ?? 0,
            Quantized = quantized,
            Lora = lora,
            LoraRelativeError = loraError,
        };
    }

    /// <summary>The learning-rate schedule over the whole run, and where a checkpoint left it: step, epoch reports, initial loss.</summary>
    private (List<EpochReport> Epochs, double InitialLoss) StartSchedule(int stepsPerEpoch, TrainingCheckpoint? checkpoint)
    {
        var totalSteps = stepsPerEpoch * _o.Epochs;
        if (_o.MaxSteps > 0) totalSteps = Math.Min(totalSteps, _o.MaxSteps);
        _schedule = new LearningRateSchedule(_o.LearningRate, _o.WarmupSteps, totalSteps, _o.Decay);
        _step = checkpoint?.Steps ?? 0;
        return (checkpoint?.Epochs ?? [], checkpoint?.InitialLoss ?? double.NaN);
    }

    /// <summary>Once everything is checked: the threads this run uses (see <see cref="TrainingOptions.AdaptThreads"/>).</summary>
    private void ChooseThreads(Action<string>? log)
    {
        _threads = _o.AdaptThreads ? CpuContention.FreeThreads(_o.Threads, TimeSpan.FromMilliseconds(300)) : _o.Threads;
        if (_threads < _o.Threads) log?.Invoke($"other processes are using the CPU: training on {_threads} of {_o.Threads} threads");
    }

    /// <summary>What every run reports: losses, speed, memory and what the packing cut.</summary>
    private TrainingReport Report(TrainingCorpus corpus, EpochPlan plan, List<EpochReport> epochs, double initialLoss, long tokensTrained,
        long estimatedBytes, int windows, string outPath) => new()
    {
        InitialLoss = initialLoss,
        FinalLoss = epochs.Count > 0 ? epochs[^1].TrainLoss : double.NaN,
        FinalValLoss = epochs.Count > 0 ? epochs[^1].ValLoss : null,
        Epochs = epochs,
        TokensTrained = tokensTrained,
        TokensPerS = tokensTrained / Math.Max(1e-9, _trainSeconds),
        PeakRssMb = Process.GetCurrentProcess().PeakWorkingSet64 / 1048576.0,
        EstimatedMemoryMb = estimatedBytes / 1048576.0,
        Steps = _step,
        Records = corpus.Records,
        Windows = windows,
        ValidationWindows = plan.Validation.Count,
        RecordsSplit = plan.First.RecordsSplit,
        RecordsLongerThanWindow = plan.First.RecordsLongerThanWindow,
        TokensDropped = plan.First.TokensDropped,
        PaddingTokens = plan.First.PaddingTokens,
        Out = outPath,
    };

    private List<TrainingWindow> Windows(List<TrainingWindow> planned) => TrainWindowsOverride != null ? TrainWindowsOverride(planned) : planned;

    private static void EnsureWritable(string outPath)
    {
        var dir = Path.GetDirectoryName(Path.GetFullPath(outPath))!;
        if (!Directory.Exists(dir)) throw new InvalidInputException($"output directory does not exist: {dir}");
        var probe = Path.Combine(dir, $".selfalign-write-test-{Environment.ProcessId}");
        try { File.WriteAllText(probe, ""); File.Delete(probe); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new InvalidInputException($"cannot write the output {outPath}: {e.Message}");
        }
    }
}

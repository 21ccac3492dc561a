using System.Diagnostics;
using SelfAlign.Generation;
using SelfAlign.Models;
using SelfAlign.Native;

namespace SelfAlign.Training;

/// <summary>
/// LoRA training. The adapter is loaded into llama.cpp like any adapter and its A/B tensors are marked as ggml-opt
/// parameters, while the parameter filter freezes every model tensor. llama.cpp computes the gradients; the optimizer
/// step is taken in managed memory (<see cref="ManagedOptimizer"/>): ggml-opt is given a vanishing SGD step whose result
/// is overwritten, so gradients of several windows can be averaged into one step and the moments survive epochs and
/// checkpoints. One context serves the whole run, and the run checkpoints and stops between optimizer steps.
/// </summary>
public sealed partial class LlamaTrainer
{
    private LoraWeights? _lora;
    private ManagedOptimizer? _optimizer;
    private float[][] _gradients = [];
    private GgmlTensor[] _gradientTensors = [];
    private int _groupWindow;
    private int _groupSize;
    private long _tokensTrained;

    /// <summary>Test hook: called with the base model and the trained adapter as the training context left them.</summary>
    internal Action<LlamaModel, LoraAdapter>? LoraTrainingFinished { get; init; }

    private TrainingReport TrainLora(string modelPath, string dataPath, string outPath, GgufFile gguf, List<TrainingText> texts,
        string checkpointDir, Action<string>? log, CancellationToken cancellationToken)
    {
        var settings = _o.Lora!;
        var fresh = LoraWeights.Create(gguf, settings, _o.Seed);
        var conversion = LoraBaseTypes.NeedsConversion(gguf);
        MemoryEstimate.EnsureFits(gguf, _o.ContextLength, fresh.ParameterCount, f32Weights: conversion != null);
        ChooseThreads(log);
        var estimated = MemoryEstimate.TrainingBytes(gguf, _o.ContextLength, fresh.ParameterCount, f32Weights: conversion != null);
        log?.Invoke($"training a rank-{settings.Rank} LoRA adapter ({fresh.ParameterCount:N0} parameters on {string.Join(", ", settings.Modules)}) " +
                    $"for {Path.GetFileName(modelPath)}; needs about {estimated / 1e9:F2} GB");
        if (conversion != null) log?.Invoke($"{Path.GetFileName(modelPath)}: {conversion}; training on an F32 copy");
        var basePath = conversion != null ? F32Conversion.EnsureF32(gguf, checkpointDir) : modelPath;

        var fingerprint = TrainingCheckpoint.MakeFingerprint(_o, modelPath, dataPath);
        var checkpoint = _o.Resume ? TrainingCheckpoint.Load(checkpointDir) : null;
        if (checkpoint != null && checkpoint.Fingerprint != fingerprint)
            throw new InvalidInputException($"{checkpointDir} holds a checkpoint of a different run (settings, model or data changed); remove it or drop --resume");
        var weights = checkpoint is null ? fresh : LoraWeights.Read(Path.Combine(checkpointDir, TrainingCheckpoint.AdapterFile(checkpoint.Steps)));

        using var model = LlamaModel.Load(basePath);
        using var padding = GraphBudget.Raise(model, checkpointDir);
        var corpus = TrainingCorpus.Build(texts, model.Vocabulary, _o.ContextLength, _o.Loss);
        var plan = new EpochPlan(corpus, _o);
        _masked = corpus.IsMasked;
        var valWindows = plan.Validation;
        var firstWindows = Learnable(plan.First.Windows).Count;
        var stepsPerEpoch = StepsOf(firstWindows);
        if (stepsPerEpoch == 0) throw new InvalidInputException($"{dataPath}: no training window holds a response token, so the response-only loss has nothing to learn");
        var (epochs, initialLoss) = StartSchedule(stepsPerEpoch, checkpoint);

        var livePath = Path.Combine(checkpointDir, "adapter-live.gguf");
        weights.Write(livePath);
        using var adapter = LoraAdapter.Load(model, livePath);
        using var ctx = OpenTrainingContext(model);
        ctx.SetLoraAdapters([(adapter, 1f)]);
        weights.Bind(model, adapter);
        _lora = weights;
        _trainable.Clear();
        _trainableNames.Clear();
        foreach (var (name, _, tensor) in weights.Parameters) { _trainableNames.Add(name); _trainable.Add(tensor); }
        _optimizer = new ManagedOptimizer(_o, weights.Parameters.Select(p => p.Values.Length));
        if (checkpoint != null) _optimizer.Load(Path.Combine(checkpointDir, TrainingCheckpoint.OptimizerFile(checkpoint.Steps)));
        _gradients = weights.Parameters.Select(p => new float[p.Values.Length]).ToArray();
        _gradientTensors = new GgmlTensor[_gradients.Length];
        _tokensTrained = 0;
        _trainSeconds = 0;

        try
        {
            InitOptimizer(ctx, model, LlamaNative.GGML_OPT_OPTIMIZER_TYPE_SGD);
            if (_masked)
            {
                OpenProbe(model);
                _probe!.SetLoraAdapters([(adapter, 1f)]);
            }
            // ggml-opt hands out its context only through the batch callbacks, and the first step needs it: evaluate first.
            var initialWindows = (valWindows.Count > 0 ? valWindows : plan.First.Windows).Take(16).ToList();
            var measured = RunDataset(ctx, [], double.IsNaN(initialLoss) ? initialWindows : initialWindows.Take(1).ToList()).Val!.Value;
            if (double.IsNaN(initialLoss)) initialLoss = _masked ? ResponseLoss(initialWindows) : measured;

            var stopped = false;
            for (_epoch = checkpoint?.EpochsDone ?? 0; _epoch < _o.Epochs && !stopped; _epoch++)
            {
                var epochClock = Stopwatch.StartNew();
                var windows = Learnable(plan.WindowsOf(_epoch));
                var resumeHere = checkpoint != null && checkpoint.EpochsDone == _epoch;
                var done = resumeHere ? checkpoint!.WindowsDone : 0;
                double lossSum = resumeHere ? checkpoint!.EpochLossSum : 0;
                long lossCount = resumeHere ? checkpoint!.EpochLossCount : 0;
                _responseLossSum = lossSum;
                _responseLossCount = lossCount;
                while (done < windows.Count)
                {
                    if (_o.MaxSteps > 0 && _step >= _o.MaxSteps) { stopped = true; break; }
                    if (cancellationToken.IsCancellationRequested)
                    {
                        SaveWithin(done, lossSum, lossCount);
                        cancellationToken.ThrowIfCancellationRequested();
                    }
                    var group = windows.GetRange(done, Math.Min(_o.BatchSize, windows.Count - done));
                    _groupSize = group.Count;
                    _groupWindow = 0;
                    _epochWindows = group;
                    _epochStep = 0;
                    var t0 = Stopwatch.GetTimestamp();
                    var (loss, _) = RunDataset(ctx, group, []);
                    _trainSeconds += Stopwatch.GetElapsedTime(t0).TotalSeconds;
                    _tokensTrained += (long)group.Count * _o.ContextLength;
                    lossSum += loss * group.Count;
                    lossCount += group.Count;
                    done += group.Count;
                    _lastLoss = _masked ? EpochResponseLoss : lossSum / lossCount;
                    _progress?.Report(new TrainingProgress(_epoch + 1, _o.Epochs, _step, _schedule.TotalSteps, _lastLoss, _tokensTrained / Math.Max(1e-9, _trainSeconds)));
                    if (_o.CheckpointEvery > 0 && _step % _o.CheckpointEvery == 0 && done < windows.Count) SaveWithin(done, lossSum, lossCount);
                }
                if (lossCount == 0) break;
                double? val = valWindows.Count == 0 ? null : _masked ? ResponseLoss(valWindows) : RunDataset(ctx, [], valWindows).Val;
                epochs.Add(new EpochReport(_epoch + 1, _masked ? EpochResponseLoss : lossSum / lossCount, val, epochClock.Elapsed.TotalSeconds));
                if (stopped) SaveWithin(done, lossSum, lossCount);
                else SaveLoraCheckpoint(checkpointDir, new TrainingCheckpoint(_epoch + 1, _step, fingerprint, epochs, initialLoss));
            }
        }
        finally
        {
            CloseProbe();
        }

        LoraTrainingFinished?.Invoke(model, adapter);
        weights.Write(outPath);
        if (_o.MergedOut is { } merged) LoraMerge.Write(basePath, weights, merged);
        if (_o.PeftOut is { } peft) PeftAdapter.Write(weights, gguf, peft, settings);
        return Report(corpus, plan, epochs, initialLoss, _tokensTrained, estimated, firstWindows, outPath) with
        {
            TrainedTensors = weights.Matrices.Where(m => m.B.Any(x => x != 0)).Select(m => m.Tensor).ToList(),
            UntrainableSelected = _step == 0 ? [] : weights.Matrices.Where(m => m.B.All(x => x == 0)).Select(m => m.Tensor).ToList(),
            TrainableParameters = weights.ParameterCount,
            ResumedFromEpoch = checkpoint?.EpochsDone ?? 0,
            Lora = outPath,
            Merged = _o.MergedOut,
            Peft = _o.PeftOut,
        };

        // A checkpoint inside the current epoch: the windows done and the loss so far (the response loss's own sums when masked).
        void SaveWithin(int windowsDone, double lossSum, long lossCount) =>
            SaveLoraCheckpoint(checkpointDir, new TrainingCheckpoint(_epoch, _step, fingerprint, epochs, initialLoss)
            {
                WindowsDone = windowsDone,
                EpochLossSum = _masked ? _responseLossSum : lossSum,
                EpochLossCount = _masked ? _responseLossCount : lossCount,
            });
    }

    private int StepsOf(int windows) => (windows + _o.BatchSize - 1) / _o.BatchSize;

    /// <summary>With the response-only loss, windows without a response token would train nothing: they are left out.</summary>
    private List<TrainingWindow> Learnable(List<TrainingWindow> windows) =>
        Windows(_masked ? windows.Where(w => w.Learned!.Any(l => l)).ToList() : windows);

    /// <summary>Adapter and optimizer state under the step number, then the state file that names them: a kill leaves the previous checkpoint whole.</summary>
    private void SaveLoraCheckpoint(string dir, TrainingCheckpoint state)
    {
        var adapterFile = Path.Combine(dir, TrainingCheckpoint.AdapterFile(state.Steps));
        var optimizerFile = Path.Combine(dir, TrainingCheckpoint.OptimizerFile(state.Steps));
        _lora!.Write(adapterFile + ".tmp");
        File.Move(adapterFile + ".tmp", adapterFile, overwrite: true);
        _optimizer!.Save(optimizerFile + ".tmp");
        File.Move(optimizerFile + ".tmp", optimizerFile, overwrite: true);
        state.Save(dir);
        foreach (var old in Directory.EnumerateFiles(dir, "adapter-0*.gguf").Concat(Directory.EnumerateFiles(dir, "optimizer-0*.bin")))
            if (old != adapterFile && old != optimizerFile) File.Delete(old);
    }

    /// <summary>Before each window's backward pass: gradients restart at a step's first window and add up over the others.</summary>
    private ggml_opt_optimizer_params NextLoraWindow()
    {
        if (_optContext.IsNull) throw new InvalidOperationException("the optimizer context is not known before the first step");
        for (var i = 0; i < _trainable.Count; i++)
        {
            var grad = _optContext.GradientOf(_trainable[i]);
            if (grad.IsNull) throw new InvalidOperationException($"ggml-opt gave {_trainableNames[i]} no gradient accumulator");
            _gradientTensors[i] = grad;
            if (_groupWindow == 0) grad.SetZero();
        }
        if (_masked) WriteResponseLabels();
        if (_groupWindow == 0) StepObserver?.Invoke(_step, false, Tensors());
        // ggml-opt insists on a positive step; this one is far below float precision of any weight and is overwritten anyway.
        return new ggml_opt_optimizer_params { sgd_alpha = 1e-30f, sgd_wd = 0 };
    }

    /// <summary>After each window: undo ggml's step; after a step's last window, average the gradients and take the step.</summary>
    private void AfterLoraWindow()
    {
        if (++_groupWindow < _groupSize)
        {
            _lora!.Upload();
            return;
        }
        var values = _lora!.Parameters.Select(p => p.Values).ToList();
        for (var i = 0; i < _gradients.Length; i++)
        {
            var g = _gradients[i];
            _gradientTensors[i].Read(g);
            if (_groupSize > 1) System.Numerics.Tensors.TensorPrimitives.Multiply(g, 1f / _groupSize, g);
        }
        _optimizer!.Step(values, _gradients, _schedule.At(_step));
        _lora.Upload();
        _step++;
        StepObserver?.Invoke(_step - 1, true, Tensors());
    }
}

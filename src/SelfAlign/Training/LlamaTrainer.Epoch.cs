using System.Diagnostics;
using SelfAlign.Generation;
using SelfAlign.Models;
using SelfAlign.Native;

namespace SelfAlign.Training;

public sealed partial class LlamaTrainer
{
    /// <summary>
    /// One epoch in a fresh context: optional initial loss, then training windows, then validation windows. A cancellation
    /// stops it between optimizer steps; the previous epoch's checkpoint is what a resumed run starts from.
    /// </summary>
    private (double Train, double? Val, double Initial) RunEpoch(LlamaModel model, List<TrainingWindow> train, List<TrainingWindow> val, bool measureInitial,
        CancellationToken cancellationToken)
    {
        using var ctx = OpenTrainingContext(model);
        _trainable.Clear();
        _trainableNames.Clear();
        _optContext = default;
        InitOptimizer(ctx, model, _o.Optimizer == OptimizerKind.Sgd ? LlamaNative.GGML_OPT_OPTIMIZER_TYPE_SGD : LlamaNative.GGML_OPT_OPTIMIZER_TYPE_ADAMW);
        if (_trainable.Count == 0) throw new InvalidInputException("the tensor selection matches no trainable tensor");

        var initialWindows = (val.Count > 0 ? val : train).Take(16).ToList();
        if (_masked) return RunResponseEpoch(model, ctx, train, val, measureInitial ? initialWindows : null, cancellationToken);

        var initial = double.NaN;
        if (measureInitial) initial = RunDataset(ctx, [], initialWindows).Val!.Value;
        var trainLoss = TrainWindows(ctx, train, cancellationToken);
        return (trainLoss, val.Count > 0 ? RunDataset(ctx, [], val).Val : null, initial);
    }

    /// <summary>
    /// One optimizer step per llama_opt_epoch call, so that a cancellation stops between steps: ggml-opt keeps its
    /// AdamW moments and step count in the context from call to call, so the weights equal those of one call.
    /// Returns the mean loss of the windows.
    /// </summary>
    private double TrainWindows(LlamaContext ctx, List<TrainingWindow> windows, CancellationToken cancellationToken)
    {
        var started = Stopwatch.GetTimestamp();
        double sum = 0;
        for (var i = 0; i < windows.Count; i++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            sum += RunDataset(ctx, [windows[i]], []).Train;
            _lastLoss = _masked ? EpochResponseLoss : sum / (i + 1);
            var seconds = Stopwatch.GetElapsedTime(started).TotalSeconds;
            _progress?.Report(new TrainingProgress(_epoch + 1, _o.Epochs, _step, _schedule.TotalSteps, _lastLoss,
                (i + 1.0) * _o.ContextLength / Math.Max(1e-9, seconds)));
        }
        _trainSeconds += Stopwatch.GetElapsedTime(started).TotalSeconds;
        return _masked ? EpochResponseLoss : sum / Math.Max(1, windows.Count);
    }

    /// <summary>A context for training windows: one sequence, no flash attention (it has no backward pass), F32 cache.</summary>
    private LlamaContext OpenTrainingContext(LlamaModel model)
    {
        var n = _o.ContextLength;
        var ctx = new LlamaContext(model, new ContextOptions
        {
            ContextSize = n, BatchSize = n, MaxSequences = 1, Threads = _threads, FlashAttention = false, F32KvCache = true, ThreadPolling = _o.ThreadPolling,
        });
        // Trap: training takes its thread count from the CPU backend, which only a decode sets; until the first one it
        // keeps ggml's default of 4 threads, which spin on 2 cores. (A decode between training steps breaks ggml-opt's
        // next graph, so the count cannot change during a run.)
        using var warm = new TokenBatch(1);
        warm.Add(model.Vocabulary.Bos >= 0 ? model.Vocabulary.Bos : 0, 0, 0, true);
        ctx.Decode(warm);
        ctx.ClearCache();
        return ctx;
    }

    /// <summary>Makes <paramref name="ctx"/> a training context whose ggml-opt callbacks are this trainer's.</summary>
    private void InitOptimizer(LlamaContext ctx, LlamaModel model, int optimizerType) =>
        ctx.Handle.InitOptimizer(model.Handle, _o.ContextLength, optimizerType, new OptimizerCallbacks
        {
            IsTrainable = Filter,
            NextStep = NextStepParameters,
            AfterTrainBatch = AfterTrainStep,
            AfterEvalBatch = optContext => _optContext = optContext,
        });

    /// <summary>An epoch with the loss over response tokens only; every loss is measured in the probe context.</summary>
    private (double Train, double? Val, double Initial) RunResponseEpoch(LlamaModel model, LlamaContext ctx, List<TrainingWindow> train, List<TrainingWindow> val,
        List<TrainingWindow>? initialWindows, CancellationToken cancellationToken)
    {
        OpenProbe(model);
        try
        {
            var initial = initialWindows is null ? double.NaN : ResponseLoss(initialWindows);
            // llama.cpp hands out its optimizer context only through the batch callbacks, and the first step's labels need it.
            RunDataset(ctx, [], train.Take(1).ToList());
            _epochWindows = train;
            _epochStep = 0;
            _responseLossSum = 0;
            _responseLossCount = 0;
            var trainLoss = TrainWindows(ctx, train, cancellationToken);
            return (trainLoss, val.Count > 0 ? ResponseLoss(val) : null, initial);
        }
        finally
        {
            CloseProbe();
        }
    }

    /// <summary>Trains on <paramref name="train"/>, then evaluates <paramref name="val"/>; returns their mean losses.</summary>
    private (double Train, double? Val) RunDataset(LlamaContext ctx, List<TrainingWindow> train, List<TrainingWindow> val)
    {
        var n = _o.ContextLength;
        var all = train.Concat(val).ToList();
        using var dataset = SafeOptDatasetHandle.CreateTokenWindows(n, all.Count);
        using var resultTrain = SafeOptResultHandle.Create();
        using var resultVal = SafeOptResultHandle.Create();
        var data = dataset.Data.HostData<int>();     // (n, windows)
        var labels = dataset.Labels.HostData<int>(); // (n, windows), shifted by one
        for (var i = 0; i < all.Count; i++)
        {
            all[i].Tokens.AsSpan(0, n).CopyTo(data.Slice(i * n, n));
            all[i].Tokens.AsSpan(1, n).CopyTo(labels.Slice(i * n, n));
        }

        ctx.Handle.RunEpoch(dataset, resultTrain, resultVal, train.Count);
        return (train.Count > 0 ? resultTrain.Loss : double.NaN, val.Count > 0 ? resultVal.Loss : null);
    }

    private bool Filter(GgmlTensor tensor)
    {
        if (_lora != null) return false; // LoRA: every model tensor stays frozen
        var name = tensor.Name;
        if (!_o.Selects(name)) return false;
        // K and V pass through the KV cache, so this release gives them no gradient; the token embedding is
        // never a parameter (an upstream FIXME), and a tied output copy shares its name.
        if (name.Contains(".attn_k.", StringComparison.Ordinal) || name.Contains(".attn_v.", StringComparison.Ordinal) ||
            name.StartsWith("token_embd", StringComparison.Ordinal))
        {
            _untrainableSelected.Add(name);
            return false;
        }
        _trainable.Add(tensor);
        _trainableNames.Add(name);
        return true;
    }

    private ggml_opt_optimizer_params NextStepParameters()
    {
        if (_lora != null) return NextLoraWindow();
        // Trap: this build adds each step's gradients to the previous ones; zero them before the step's backward pass.
        if (!_optContext.IsNull && ZeroGradients)
            foreach (var t in _trainable)
            {
                var grad = _optContext.GradientOf(t);
                if (!grad.IsNull) grad.SetZero();
            }
        if (_masked) WriteResponseLabels();
        StepObserver?.Invoke(_step, false, Tensors());
        var lr = _schedule.At(_step);
        return _o.Optimizer == OptimizerKind.Sgd
            ? new ggml_opt_optimizer_params { sgd_alpha = lr, sgd_wd = _o.WeightDecay }
            : new ggml_opt_optimizer_params
            {
                adamw_alpha = lr, adamw_beta1 = _o.Beta1, adamw_beta2 = _o.Beta2, adamw_eps = _o.Epsilon, adamw_wd = _o.WeightDecay,
            };
    }

    private void AfterTrainStep(GgmlOptContext optContext)
    {
        _optContext = optContext;
        if (_lora != null) { AfterLoraWindow(); return; }
        _step++;
        StepObserver?.Invoke(_step - 1, true, Tensors());
    }

    private List<(string Name, GgmlTensor Tensor)> Tensors() => _trainableNames.Zip(_trainable).ToList();
}

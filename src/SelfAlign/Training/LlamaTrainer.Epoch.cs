using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using SelfAlign.Generation;
using SelfAlign.Models;
using SelfAlign.Native;

namespace SelfAlign.Training;

public sealed unsafe partial class LlamaTrainer
{
    // llama_opt_epoch's batch callback has no user data; it runs on the calling thread.
    [ThreadStatic] private static LlamaTrainer? _current;
    private Exception? _callbackError;

    /// <summary>One epoch in a fresh context: optional initial loss, then training windows, then validation windows.</summary>
    private (double Train, double? Val, double Initial) RunEpoch(LlamaModel model, List<TrainingWindow> train, List<TrainingWindow> val, bool measureInitial)
    {
        using var ctx = OpenTrainingContext(model);
        _trainable.Clear();
        _trainableNames.Clear();
        _optContext = 0;
        var self = GCHandle.Alloc(this);
        _current = this;
        try
        {
            InitOptimizerContext(ctx, model, self, _o.Optimizer == OptimizerKind.Sgd ? LlamaNative.GGML_OPT_OPTIMIZER_TYPE_SGD : LlamaNative.GGML_OPT_OPTIMIZER_TYPE_ADAMW);
            if (_trainable.Count == 0) throw new InvalidInputException("the tensor selection matches no trainable tensor");

            var initialWindows = (val.Count > 0 ? val : train).Take(16).ToList();
            if (_masked) return RunResponseEpoch(model, ctx, train, val, measureInitial ? initialWindows : null);

            var initial = double.NaN;
            if (measureInitial) initial = RunDataset(ctx, [], initialWindows).Val!.Value;

            _epochStartTimestamp = System.Diagnostics.Stopwatch.GetTimestamp();
            _epochTrainSeconds = 0;
            var (trainLoss, valLoss) = RunDataset(ctx, train, val);
            _trainSeconds += _epochTrainSeconds;
            return (trainLoss, valLoss, initial);
        }
        finally
        {
            _current = null;
            self.Free();
        }
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

    private void InitOptimizerContext(LlamaContext ctx, LlamaModel model, GCHandle self, int optimizerType)
    {
        var p = new llama_opt_params
        {
            n_ctx_train = (uint)_o.ContextLength,
            param_filter = &FilterTensor,
            param_filter_ud = GCHandle.ToIntPtr(self),
            get_opt_pars = &OptimizerParameters,
            get_opt_pars_ud = GCHandle.ToIntPtr(self),
            optimizer_type = optimizerType,
        };
        LlamaNative.llama_opt_init(ctx.Ptr, model.Handle.DangerousGetHandle(), p);
    }

    /// <summary>An epoch with the loss over response tokens only; every loss is measured in the probe context.</summary>
    private (double Train, double? Val, double Initial) RunResponseEpoch(LlamaModel model, LlamaContext ctx, List<TrainingWindow> train, List<TrainingWindow> val,
        List<TrainingWindow>? initialWindows)
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
            _epochStartTimestamp = System.Diagnostics.Stopwatch.GetTimestamp();
            _epochTrainSeconds = 0;
            RunDataset(ctx, train, []);
            _trainSeconds += _epochTrainSeconds;
            return (EpochResponseLoss, val.Count > 0 ? ResponseLoss(val) : null, initial);
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
        var dataset = LlamaNative.ggml_opt_dataset_init(LlamaNative.GGML_TYPE_I32, LlamaNative.GGML_TYPE_I32, n, n, all.Count, 1);
        var resultTrain = LlamaNative.ggml_opt_result_init();
        var resultVal = LlamaNative.ggml_opt_result_init();
        try
        {
            var data = (int*)LlamaNative.ggml_get_data(LlamaNative.ggml_opt_dataset_data(dataset));   // (n, windows)
            var labels = (int*)LlamaNative.ggml_get_data(LlamaNative.ggml_opt_dataset_labels(dataset)); // (n, windows), shifted by one
            for (var i = 0; i < all.Count; i++)
                for (var j = 0; j < n; j++)
                {
                    data[(long)i * n + j] = all[i].Tokens[j];
                    labels[(long)i * n + j] = all[i].Tokens[j + 1];
                }

            _callbackError = null;
            LlamaNative.llama_opt_epoch(ctx.Ptr, dataset, resultTrain, resultVal, train.Count, &OnTrainBatch, &OnEvalBatch);
            if (_callbackError != null) throw _callbackError;
            return (train.Count > 0 ? Loss(resultTrain) : double.NaN, val.Count > 0 ? Loss(resultVal) : null);
        }
        finally
        {
            LlamaNative.ggml_opt_result_free(resultTrain);
            LlamaNative.ggml_opt_result_free(resultVal);
            LlamaNative.ggml_opt_dataset_free(dataset);
        }
    }

    private static double Loss(nint result)
    {
        double loss, unc;
        LlamaNative.ggml_opt_result_loss(result, &loss, &unc);
        return loss;
    }

    private bool Filter(nint tensor)
    {
        if (_lora != null) return false; // LoRA: every model tensor stays frozen
        var name = Marshal.PtrToStringUTF8(LlamaNative.ggml_get_name(tensor)) ?? "";
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
        if (_optContext != 0 && ZeroGradients)
            foreach (var t in _trainable)
            {
                var grad = LlamaNative.ggml_opt_grad_acc(_optContext, t);
                if (grad != 0) LlamaNative.ggml_set_zero(grad);
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

    private void AfterTrainStep(nint optContext, nint result, long batch)
    {
        _optContext = optContext;
        if (_lora != null) { AfterLoraWindow(); return; }
        _step++;
        _lastLoss = _masked ? EpochResponseLoss : Loss(result);
        _epochTrainSeconds = System.Diagnostics.Stopwatch.GetElapsedTime(_epochStartTimestamp).TotalSeconds;
        StepObserver?.Invoke(_step - 1, true, Tensors());
        var seconds = System.Diagnostics.Stopwatch.GetElapsedTime(_epochStartTimestamp).TotalSeconds;
        _progress?.Report(new TrainingProgress(_epoch + 1, _o.Epochs, _step, _schedule.TotalSteps, _lastLoss,
            batch * _o.ContextLength / Math.Max(1e-9, seconds)));
    }

    private List<(string Name, nint Tensor)> Tensors() => _trainableNames.Zip(_trainable).ToList();

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static byte FilterTensor(nint tensor, nint userData)
    {
        var trainer = (LlamaTrainer)GCHandle.FromIntPtr(userData).Target!;
        try { return (byte)(trainer.Filter(tensor) ? 1 : 0); }
        catch (Exception e) { trainer._callbackError ??= e; return 0; }
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static ggml_opt_optimizer_params OptimizerParameters(nint userData)
    {
        var trainer = (LlamaTrainer)GCHandle.FromIntPtr(userData).Target!;
        try { return trainer.NextStepParameters(); }
        catch (Exception e)
        {
            trainer._callbackError ??= e;
            return new ggml_opt_optimizer_params { adamw_alpha = 1e-12f, adamw_beta1 = 0.9f, adamw_beta2 = 0.999f, sgd_alpha = 1e-12f };
        }
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static void OnTrainBatch(byte train, nint optContext, nint dataset, nint result, long batch, long batchMax, long startUs)
    {
        var trainer = _current!;
        try { trainer.AfterTrainStep(optContext, result, batch); }
        catch (Exception e) { trainer._callbackError ??= e; }
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static void OnEvalBatch(byte train, nint optContext, nint dataset, nint result, long batch, long batchMax, long startUs)
    {
        var trainer = _current!;
        trainer._optContext = optContext;
    }
}

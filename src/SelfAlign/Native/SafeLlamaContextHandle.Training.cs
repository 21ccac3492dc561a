using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace SelfAlign.Native;

/// <summary>llama.cpp's training entry points on a context, with its C callbacks turned into <see cref="OptimizerCallbacks"/>.</summary>
internal sealed unsafe partial class SafeLlamaContextHandle
{
    private GCHandle _optimizer; // the callbacks of llama_opt_init, asked again at every step

    // llama_opt_epoch's batch callbacks carry no user data; they run on the calling thread.
    [ThreadStatic] private static OptimizerCallbacks? _epochCallbacks;

    /// <summary>Prepares the context for training: <see cref="OptimizerCallbacks.IsTrainable"/> is asked for every model tensor now.</summary>
    public void InitOptimizer(SafeLlamaModelHandle model, int contextLength, int optimizerType, OptimizerCallbacks callbacks)
    {
        if (_optimizer.IsAllocated) _optimizer.Free();
        _optimizer = GCHandle.Alloc(callbacks);
        var p = new llama_opt_params
        {
            n_ctx_train = (uint)contextLength,
            param_filter = &FilterTensor,
            param_filter_ud = GCHandle.ToIntPtr(_optimizer),
            get_opt_pars = &StepParameters,
            get_opt_pars_ud = GCHandle.ToIntPtr(_optimizer),
            optimizer_type = optimizerType,
        };
        LlamaNative.llama_opt_init(this, model, p);
        callbacks.ThrowIfFailed();
    }

    /// <summary>Trains on the dataset's first <paramref name="trainCount"/> windows, then evaluates the rest.</summary>
    public void RunEpoch(SafeOptDatasetHandle dataset, SafeOptResultHandle train, SafeOptResultHandle eval, long trainCount)
    {
        var callbacks = (OptimizerCallbacks)_optimizer.Target!;
        _epochCallbacks = callbacks;
        try
        {
            LlamaNative.llama_opt_epoch(this, dataset, train, eval, trainCount, &OnTrainBatch, &OnEvalBatch);
        }
        finally
        {
            _epochCallbacks = null;
        }
        callbacks.ThrowIfFailed();
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static byte FilterTensor(nint tensor, nint userData)
    {
        var callbacks = (OptimizerCallbacks)GCHandle.FromIntPtr(userData).Target!;
        try { return (byte)(callbacks.IsTrainable(new GgmlTensor(tensor)) ? 1 : 0); }
        catch (Exception e) { callbacks.Fail(e); return 0; }
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static ggml_opt_optimizer_params StepParameters(nint userData)
    {
        var callbacks = (OptimizerCallbacks)GCHandle.FromIntPtr(userData).Target!;
        try { return callbacks.NextStep(); }
        catch (Exception e)
        {
            callbacks.Fail(e);
            return new ggml_opt_optimizer_params { adamw_alpha = 1e-12f, adamw_beta1 = 0.9f, adamw_beta2 = 0.999f, sgd_alpha = 1e-12f };
        }
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static void OnTrainBatch(byte train, nint optContext, nint dataset, nint result, long batch, long batchMax, long startUs)
    {
        var callbacks = _epochCallbacks!;
        try { callbacks.AfterTrainBatch?.Invoke(new GgmlOptContext(optContext)); }
        catch (Exception e) { callbacks.Fail(e); }
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static void OnEvalBatch(byte train, nint optContext, nint dataset, nint result, long batch, long batchMax, long startUs)
    {
        var callbacks = _epochCallbacks!;
        try { callbacks.AfterEvalBatch?.Invoke(new GgmlOptContext(optContext)); }
        catch (Exception e) { callbacks.Fail(e); }
    }
}

using System.Runtime.ExceptionServices;

namespace SelfAlign.Native;

/// <summary>
/// What ggml-opt asks during training: which tensors to train, each step's optimizer settings, and what to do after
/// each batch. An exception thrown inside one cannot cross into llama.cpp: it is kept and rethrown when the native
/// call returns.
/// </summary>
internal sealed class OptimizerCallbacks
{
    public required Func<GgmlTensor, bool> IsTrainable { get; init; }
    /// <summary>Asked before each batch's backward pass.</summary>
    public required Func<ggml_opt_optimizer_params> NextStep { get; init; }
    public Action<GgmlOptContext>? AfterTrainBatch { get; init; }
    public Action<GgmlOptContext>? AfterEvalBatch { get; init; }

    private ExceptionDispatchInfo? _error;

    public void Fail(Exception e) => _error ??= ExceptionDispatchInfo.Capture(e);

    public void ThrowIfFailed()
    {
        var error = _error;
        _error = null;
        error?.Throw();
    }
}

namespace SelfAlign.Native;

/// <summary>A <c>ggml_opt_context_t</c> as the batch callbacks hand it out: gradients and the label tensor of the step.</summary>
internal readonly record struct GgmlOptContext(nint Pointer)
{
    public bool IsNull => Pointer == 0;

    /// <summary>The gradient accumulator of a trainable tensor (null pointer when ggml-opt keeps none for it).</summary>
    public GgmlTensor GradientOf(GgmlTensor parameter) => new(LlamaNative.ggml_opt_grad_acc(Pointer, parameter.Pointer));

    /// <summary>The labels of the current batch: one row of vocabulary probabilities per position.</summary>
    public GgmlTensor Labels => new(LlamaNative.ggml_opt_labels(Pointer));
}

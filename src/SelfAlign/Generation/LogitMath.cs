using System.Numerics.Tensors;

namespace SelfAlign.Generation;

/// <summary>Vectorised maths over a vocabulary-sized row of logits, shared by sampling, scoring and RAIN.</summary>
internal static class LogitMath
{
    /// <summary>Probabilities of the logits at a temperature, written to <paramref name="into"/> (which may be the logits' own memory).</summary>
    public static void Softmax(ReadOnlySpan<float> logits, float temperature, Span<float> into)
    {
        // shifted by the largest logit first: TensorPrimitives.SoftMax overflows to NaN past e^88 (a logit bias of 100 gets there)
        var max = TensorPrimitives.Max(logits);
        TensorPrimitives.Subtract(logits, max, into);
        if (temperature != 1f) TensorPrimitives.Multiply(into, 1f / temperature, into);
        TensorPrimitives.SoftMax(into, into);
    }

    /// <summary>log Σ exp(logits), without overflow; <paramref name="scratch"/> is a buffer of the logits' length.</summary>
    public static double LogSumExp(ReadOnlySpan<float> logits, Span<float> scratch)
    {
        var max = TensorPrimitives.Max(logits);
        TensorPrimitives.Subtract(logits, max, scratch);
        TensorPrimitives.Exp(scratch, scratch);
        return max + Math.Log(TensorPrimitives.Sum<float>(scratch));
    }

    /// <summary>The log-probability of <paramref name="token"/> and of the <paramref name="top"/> most likely tokens.</summary>
    public static TokenLogProbability LogProbability(ReadOnlySpan<float> logits, int token, int top, Span<float> scratch)
    {
        var logZ = LogSumExp(logits, scratch);
        var best = top == 0 ? [] : TokenSampler.TopIndices(logits, top);
        var alternatives = new TokenAlternative[best.Length];
        for (var i = 0; i < best.Length; i++) alternatives[i] = new TokenAlternative(best[i], (float)(logits[best[i]] - logZ));
        return new TokenLogProbability(token, (float)(logits[token] - logZ), alternatives);
    }
}

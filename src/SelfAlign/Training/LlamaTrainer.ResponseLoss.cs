using System.Numerics.Tensors;
using SelfAlign.Generation;
using SelfAlign.Models;
using SelfAlign.Native;

namespace SelfAlign.Training;

/// <summary>
/// The loss over response tokens only. This llama.cpp release builds one-hot labels for every position of a
/// window and takes the cross-entropy of all of them, with no mask. The gradient of that loss at a position is
/// (softmax of the logits - the label row), so a label row equal to the model's own distribution there gives that
/// position no gradient. Before each step, a second (inference) context runs the window with the current weights;
/// just before the step, the rows of the positions that are not learned are overwritten with those distributions.
/// The same pass gives the loss over the learned positions, which is what is reported.
/// </summary>
public sealed partial class LlamaTrainer
{
    private bool _masked;
    private LlamaContext? _probe;
    private TokenBatch? _probeBatch;
    private List<TrainingWindow> _epochWindows = [];
    private int _epochStep;
    private double _responseLossSum;
    private long _responseLossCount;

    /// <summary>Mean loss over the learned positions of this epoch's steps so far.</summary>
    private double EpochResponseLoss => _responseLossSum / Math.Max(1, _responseLossCount);

    private void OpenProbe(LlamaModel model)
    {
        _probe = new LlamaContext(model, new ContextOptions
        {
            ContextSize = _o.ContextLength, BatchSize = _o.ContextLength, MaxSequences = 1, Threads = _threads, FlashAttention = false, F32KvCache = true,
            ThreadPolling = _o.ThreadPolling,
        });
        _probeBatch = new TokenBatch(_o.ContextLength);
    }

    private void CloseProbe()
    {
        _probeBatch?.Dispose();
        _probe?.Dispose();
        _probeBatch = null;
        _probe = null;
    }

    /// <summary>Mean loss over the learned positions of <paramref name="windows"/>, with the current weights.</summary>
    private double ResponseLoss(IEnumerable<TrainingWindow> windows)
    {
        double sum = 0;
        long count = 0;
        foreach (var w in windows)
        {
            var (s, c) = ProbeWindow(w, labels: default);
            sum += s;
            count += c;
        }
        return sum / Math.Max(1, count);
    }

    /// <summary>Called just before each optimizer step: the step's window gets its label rows for unlearned positions.</summary>
    private void WriteResponseLabels()
    {
        if (_optContext.IsNull) throw new InvalidOperationException("the optimizer context is not known before the first step");
        var (sum, count) = ProbeWindow(_epochWindows[_epochStep++], _optContext.Labels);
        _responseLossSum += sum;
        _responseLossCount += count;
    }

    /// <summary>
    /// Runs one window in the probe context; returns the summed cross-entropy of its learned positions and their count and, when
    /// <paramref name="labels"/> is a tensor (not null), writes the model's distribution into the rows of the other positions.
    /// </summary>
    private (double Sum, int Count) ProbeWindow(TrainingWindow window, GgmlTensor labels)
    {
        var n = _o.ContextLength;
        var mask = window.Learned!;
        var tokens = window.Tokens;
        var probe = _probe!;
        var vocab = probe.VocabularySize;
        if (!labels.IsNull && labels.ElementCount != (long)n * vocab)
            throw new InvalidOperationException($"the label tensor holds {labels.ElementCount} values, not {n} x {vocab}");
        probe.ClearCache();
        _probeBatch!.Clear();
        for (var i = 0; i < n; i++) _probeBatch.Add(tokens[i], i, 0, true);
        probe.Decode(_probeBatch);

        // exp(logit - max) once per position, in double: its sum gives the loss of a learned position, and divided by
        // the sum it is the distribution written for the others.
        var exp = new double[vocab];
        var row = new float[vocab];
        double loss = 0;
        var learned = 0;
        for (var i = 0; i < n; i++)
        {
            if (!mask[i] && labels.IsNull) continue;
            var logits = probe.GetLogits(i);
            var max = TensorPrimitives.Max(logits);
            double sum = 0;
            for (var t = 0; t < vocab; t++) sum += exp[t] = Math.Exp(logits[t] - max);
            if (mask[i])
            {
                loss += Math.Log(sum) - (logits[tokens[i + 1]] - max);
                learned++;
                continue;
            }
            for (var t = 0; t < vocab; t++) row[t] = (float)(exp[t] / sum);
            labels.Write(row, (long)i * vocab);
        }
        return (loss, learned);
    }
}

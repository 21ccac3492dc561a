using System.Numerics;
using System.Numerics.Tensors;
using SelfAlign.Data;

namespace SelfAlign.Generation;

/// <summary>
/// Chooses tokens from logits for one sequence. Owns a reusable working buffer and the sequence's own
/// random stream, so results do not depend on which other sequences share the batch.
/// </summary>
public sealed class TokenSampler
{
    private readonly SamplingOptions _o;
    private readonly Random _random;
    private float[] _work = [];
    private readonly bool _needsWork;

    public TokenSampler(SamplingOptions options)
    {
        options.Validate();
        _o = options;
        _random = Seeds.Random(options.Seed);
        _needsWork = !options.IsGreedy || options.BannedTokens.Count > 0 || options.LogitBias.Count > 0 ||
                     options.RepetitionPenalty != 1f || options.FrequencyPenalty != 0f || options.PresencePenalty != 0f ||
                     options.NGramPenalties.Any(p => p != 0f);
    }

    /// <summary>Picks the next token given the logits and the tokens generated so far.</summary>
    public int Sample(ReadOnlySpan<float> logits, IReadOnlyList<int> generated)
    {
        // Plain greedy reads llama.cpp's buffer directly: no copy of the vocabulary-sized row.
        if (!_needsWork) return TensorPrimitives.IndexOfMax(logits);

        if (_work.Length != logits.Length) _work = new float[logits.Length];
        var x = _work.AsSpan();
        logits.CopyTo(x);
        foreach (var (token, bias) in _o.LogitBias) if ((uint)token < (uint)x.Length) x[token] += bias;
        ApplyPenalties(x, generated);
        foreach (var token in _o.BannedTokens) if ((uint)token < (uint)x.Length) x[token] = float.NegativeInfinity;

        if (_o.IsGreedy) return TensorPrimitives.IndexOfMax(x);
        return SampleFromDistribution(x);
    }

    private void ApplyPenalties(Span<float> x, IReadOnlyList<int> generated)
    {
        if (generated.Count == 0) return;
        if (_o.RepetitionPenalty != 1f || _o.FrequencyPenalty != 0f || _o.PresencePenalty != 0f)
        {
            var start = _o.PenaltyWindow > 0 ? Math.Max(0, generated.Count - _o.PenaltyWindow) : 0;
            var counts = new Dictionary<int, int>();
            for (var i = start; i < generated.Count; i++) counts[generated[i]] = counts.GetValueOrDefault(generated[i]) + 1;
            foreach (var (token, count) in counts)
            {
                if ((uint)token >= (uint)x.Length) continue;
                ref var v = ref x[token];
                if (_o.RepetitionPenalty != 1f) v = v > 0 ? v / _o.RepetitionPenalty : v * _o.RepetitionPenalty;
                v -= _o.FrequencyPenalty * count + _o.PresencePenalty;
            }
        }
        for (var n = 1; n <= _o.NGramPenalties.Count; n++)
        {
            var penalty = _o.NGramPenalties[n - 1];
            if (penalty != 0f) ApplyNGramPenalty(x, generated, n, penalty, _o.NGramPenaltyTokens);
        }
    }

    /// <summary>For each earlier place where the last n-1 tokens occurred, the token that followed them is penalised (if <paramref name="only"/> allows it).</summary>
    internal static void ApplyNGramPenalty(Span<float> x, IReadOnlyList<int> generated, int n, float penalty, IReadOnlyList<bool>? only = null)
    {
        var count = generated.Count;
        var context = n - 1;
        if (count < context) return;
        for (var end = context; end < count; end++) // generated[end] followed generated[end-context .. end-1]
        {
            var match = true;
            for (var k = 1; k <= context && match; k++) match = generated[end - k] == generated[count - k];
            if (match && (uint)generated[end] < (uint)x.Length && (only is null || only[generated[end]])) x[generated[end]] -= penalty;
        }
    }

    private int SampleFromDistribution(Span<float> x)
    {
        LogitMath.Softmax(x, _o.Temperature, x); // probabilities over the whole vocabulary, at temperature

        var candidates = TopCandidates(x);
        var total = 0f;
        foreach (var c in candidates) total += x[c];
        var draw = (float)_random.NextDouble() * total;
        foreach (var c in candidates)
        {
            draw -= x[c];
            if (draw <= 0) return c;
        }
        return candidates[^1];
    }

    /// <summary>The tokens that survive top-k, top-p and min-p (most likely first, unless the distribution is flat).</summary>
    private List<int> TopCandidates(ReadOnlySpan<float> p)
    {
        var maxP = TensorPrimitives.Max(p);
        var minKeep = _o.MinP > 0 ? _o.MinP * maxP : 0f;
        var limit = _o.TopK > 0 ? _o.TopK : p.Length;
        // Grow a top-m selection until it covers top-p's mass: exact, and cheap for peaked distributions.
        for (var m = Math.Min(limit, 64); ;)
        {
            var top = TopIndices(p, m);
            var kept = new List<int>(top.Length);
            var mass = 0f;
            foreach (var t in top)
            {
                if (p[t] < minKeep && kept.Count > 0) break;
                kept.Add(t);
                mass += p[t];
                if (mass >= _o.TopP) return kept;
            }
            if (m >= limit || kept.Count < top.Length) return kept;
            // A flat distribution over a large vocabulary (random weights, a high temperature) would need many more heap
            // rounds, each a pass over the vocabulary: find top-p's set by its probability threshold instead.
            var next = (int)Math.Min(limit, Math.Max(m * 4L, (long)Math.Min(int.MaxValue, m * _o.TopP / Math.Max(mass, 1e-12))));
            if (next > HeapLimit && _o.TopK == 0) return ThresholdCandidates(p, maxP, minKeep);
            m = next;
        }
    }

    private const int HeapLimit = 4096;

    /// <summary>
    /// Top-p's set as every token at or above the highest probability threshold whose tokens still hold top-p's mass, found by
    /// bisection (exact to float resolution at the boundary), in vocabulary order.
    /// </summary>
    private List<int> ThresholdCandidates(ReadOnlySpan<float> p, float maxP, float minKeep)
    {
        // below (1 - top_p) / V, the tokens left out could not hold more than 1 - top_p: a safe lower end
        float low = (1 - _o.TopP) / p.Length, high = maxP;
        while (_o.TopP < 1f) // top-p 1 keeps every token
        {
            var mid = (low + high) / 2;
            if (mid <= low || mid >= high) break;
            if (MassAtOrAbove(p, mid) >= _o.TopP) low = mid;
            else high = mid;
        }
        var threshold = Math.Max(low, minKeep);
        var kept = new List<int>();
        for (var i = 0; i < p.Length; i++)
            if (p[i] >= threshold) kept.Add(i);
        return kept;
    }

    /// <summary>The probability mass of the tokens at or above a threshold, summed in double (a boundary token is about 1/V of it).</summary>
    private static double MassAtOrAbove(ReadOnlySpan<float> p, float threshold)
    {
        var sums = Vector<double>.Zero;
        var t = new Vector<float>(threshold);
        var i = 0;
        for (; i <= p.Length - Vector<float>.Count; i += Vector<float>.Count)
        {
            var v = new Vector<float>(p.Slice(i, Vector<float>.Count));
            Vector.Widen(Vector.ConditionalSelect(Vector.GreaterThanOrEqual(v, t), v, Vector<float>.Zero), out var a, out var b);
            sums += a + b;
        }
        var mass = Vector.Sum(sums);
        for (; i < p.Length; i++)
            if (p[i] >= threshold) mass += p[i];
        return mass;
    }

    /// <summary>Indices of the m largest values, largest first (a bounded min-heap: O(V log m)).</summary>
    internal static int[] TopIndices(ReadOnlySpan<float> values, int m)
    {
        m = Math.Min(m, values.Length);
        var heap = new PriorityQueue<int, float>(m + 1);
        for (var i = 0; i < values.Length; i++)
        {
            if (heap.Count < m) heap.Enqueue(i, values[i]);
            else if (heap.TryPeek(out _, out var smallest) && values[i] > smallest) heap.EnqueueDequeue(i, values[i]);
        }
        var result = new int[heap.Count];
        for (var i = result.Length - 1; i >= 0; i--) result[i] = heap.Dequeue();
        return result;
    }
}

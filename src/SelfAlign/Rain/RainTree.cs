using System.Numerics.Tensors;

namespace SelfAlign.Rain;

/// <summary>
/// The search tree's rules, independent of any model: PUCT selection with root-relative min-max value
/// normalisation and virtual loss, value backup with similarity credit to near-identical siblings, the test for
/// dynamic addition of children, the early-stop test, and committing a root child with reuse of its subtree.
/// </summary>
public sealed class RainTree(RainNode root, RainOptions options)
{
    public RainNode Root { get; private set; } = root;
    /// <summary>Smallest and largest node value seen, for normalisation (the reference starts them at -1 and +1).</summary>
    public double MinValue { get; private set; } = -1;
    public double MaxValue { get; private set; } = 1;
    /// <summary>Visits credited to a similar sibling so far.</summary>
    public int SimilarityCredits { get; private set; }

    /// <summary>The PUCT score of <paramref name="child"/>: normalised value plus c * prior * sqrt(N_parent) / (1 + n).</summary>
    public double Score(RainNode parent, RainNode child)
    {
        var n = child.Visits + child.Pending;
        double q;
        if (n <= 0) q = 0;
        else
        {
            // pending selections count as losses (-1) until they are backed up, so a round spreads its leaves
            var value = (child.Value * child.Visits - child.Pending) / n;
            q = (value - MinValue) / (MaxValue - MinValue + 1e-5);
        }
        var parentVisits = parent.Visits + parent.Pending;
        return q + options.Exploration * child.Prior * Math.Sqrt(parentVisits) / (1 + n);
    }

    /// <summary>The child with the highest score; ties go to the earlier child (higher prior).</summary>
    public RainNode Select(RainNode parent)
    {
        RainNode? best = null;
        var bestScore = double.NegativeInfinity;
        foreach (var c in parent.Children)
        {
            var s = Score(parent, c);
            if (s > bestScore) { best = c; bestScore = s; }
        }
        return best ?? throw new InvalidOperationException("select on a node without children");
    }

    /// <summary>
    /// Backs <paramref name="value"/> up from <paramref name="leaf"/> to the root: counts the visit, folds each
    /// node's embedding (<paramref name="embeddings"/>, from the leaf upwards; missing ones leave a node's as it is)
    /// into its running mean, credits siblings at least as similar as the threshold, and moves each node's mean value.
    /// </summary>
    public void Backup(RainNode leaf, double value, IReadOnlyList<float[]?> embeddings)
    {
        var g = options.Discount * value;
        var level = 0;
        for (var node = leaf; node is not null; node = node.Parent, level++)
        {
            node.Visits += 1;
            node.RealVisits += 1;
            if (level < embeddings.Count && embeddings[level] is { } embedding)
            {
                node.EmbeddedVisits += 1;
                node.Embedding = RunningMean(node.Embedding, embedding, node.EmbeddedVisits);
            }
            if (node.Parent is { } parent && node.Embedding is not null && options.Similarity != RainSimilarity.Off)
                foreach (var sibling in parent.Children)
                {
                    if (ReferenceEquals(sibling, node) || sibling.Embedding is null) continue;
                    var similarity = TensorPrimitives.CosineSimilarity(sibling.Embedding, node.Embedding);
                    if (similarity < options.SimilarityThreshold) continue;
                    SimilarityCredits++;
                    var w = options.SimilarityWeight * similarity;
                    var old = sibling.Visits;
                    sibling.Visits += w;
                    sibling.Value = (sibling.Value * old + w * g) / sibling.Visits;
                    Track(sibling.Value);
                }
            node.Value += (g - node.Value) / node.Visits;
            Track(node.Value);
        }
    }

    private void Track(double q)
    {
        MinValue = Math.Min(MinValue, q);
        MaxValue = Math.Max(MaxValue, q);
    }

    private static float[] RunningMean(float[]? mean, float[] x, int count)
    {
        if (mean is null) return (float[])x.Clone();
        var result = new float[mean.Length];
        for (var i = 0; i < mean.Length; i++) result[i] = mean[i] + (x[i] - mean[i]) / count;
        return result;
    }

    /// <summary>
    /// True when a node's children all look bad (every value below 0) and alike (the norm of their embeddings'
    /// variance below the threshold times their token-set length), and there is room for more.
    /// </summary>
    public bool NeedsMoreChildren(RainNode node)
    {
        if (options.Similarity == RainSimilarity.Off || node.CannotGrow || !node.Expanded || node.Children.Count == 0 || node.Children.Count >= options.MaxChildren) return false;
        if (node.Children.Any(c => c.RealVisits == 0 || c.Value >= 0 || c.Embedding is null)) return false;
        var dim = node.Children[0].Embedding!.Length;
        var mean = new double[dim];
        foreach (var c in node.Children) for (var i = 0; i < dim; i++) mean[i] += c.Embedding![i];
        for (var i = 0; i < dim; i++) mean[i] /= node.Children.Count;
        var variance = new double[dim];
        foreach (var c in node.Children)
            for (var i = 0; i < dim; i++) { var d = c.Embedding![i] - mean[i]; variance[i] += d * d; }
        var norm = Math.Sqrt(variance.Sum(v => (v / node.Children.Count) * (v / node.Children.Count)));
        return norm < options.AdditionVarianceThreshold * options.TokenSetLength(node.Depth);
    }

    /// <summary>The root child the search would commit: most visits, ties broken by value, then by order.</summary>
    public RainNode? BestChild()
    {
        RainNode? best = null;
        foreach (var c in Root.Children)
            if (best is null || c.Visits > best.Visits || (c.Visits == best.Visits && c.Value > best.Value)) best = c;
        return best;
    }

    /// <summary>Early stop: the best child has more than Tmin real visits and a value above V.</summary>
    public bool CanStop() => BestChild() is { } b && b.RealVisits > options.MinIterations && b.Value > options.ValueThreshold;

    /// <summary>
    /// True when no other root child can reach the best one's visits in <paramref name="remaining"/> more iterations
    /// (an iteration adds at most one visit to a child), so searching on cannot change what is committed.
    /// </summary>
    public bool LeaderIsSafe(int remaining)
    {
        if (BestChild() is not { } best) return false;
        var runnerUp = Root.Children.Where(c => !ReferenceEquals(c, best)).Select(c => c.Visits).DefaultIfEmpty(0).Max();
        return best.Visits > runnerUp + remaining;
    }

    /// <summary>Commits <paramref name="child"/>: it becomes the root, keeping its subtree, with root noise mixed into its children's priors.</summary>
    public void Commit(RainNode child)
    {
        child.Parent = null;
        Root = child;
        MixRootNoise();
    }

    /// <summary>Mixes uniform noise into the root children's priors: (1 - noise) * p + noise / K.</summary>
    public void MixRootNoise()
    {
        var k = Root.Children.Count;
        foreach (var c in Root.Children) c.Prior = (1 - options.RootNoise) * c.Prior + options.RootNoise / k;
    }
}

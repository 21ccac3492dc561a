namespace SelfAlign.Rain;

/// <summary>
/// A node of the RAIN search tree: the token set on its incoming edge, visit statistics, value, prior and the
/// running-mean embedding of the text evaluated through it.
/// </summary>
public sealed class RainNode
{
    public RainNode(int[] tokens, int[] path, double prior, int depth, RainNode? parent = null)
    {
        Tokens = tokens;
        Path = path;
        Prior = prior;
        Depth = depth;
        Parent = parent;
    }

    /// <summary>The token set on the edge into this node.</summary>
    public int[] Tokens { get; }
    /// <summary>The whole answer up to and including this node's tokens (committed text and the tree path).</summary>
    public int[] Path { get; }
    /// <summary>Depth from the original root (the empty answer), which sets the length of this node's children.</summary>
    public int Depth { get; }
    public RainNode? Parent { get; internal set; }
    public List<RainNode> Children { get; } = [];
    /// <summary>Visits, including fractional credit from similar siblings (n).</summary>
    public double Visits { get; internal set; }
    /// <summary>Real visits (fn).</summary>
    public int RealVisits { get; internal set; }
    /// <summary>Mean backed-up value (q).</summary>
    public double Value { get; internal set; }
    public double Prior { get; internal set; }
    /// <summary>Running mean of the embeddings of this node's continuations evaluated so far; null until one is.</summary>
    public float[]? Embedding { get; internal set; }
    /// <summary>How many embeddings <see cref="Embedding"/> averages.</summary>
    internal int EmbeddedVisits { get; set; }
    /// <summary>Children have been created (or none could be).</summary>
    public bool Expanded { get; internal set; }
    /// <summary>The answer ends here (end-of-generation token or stop string): never expanded.</summary>
    public bool Terminal { get; internal set; }
    /// <summary>The next-token distribution's head at this node, kept to add single-token children later.</summary>
    internal (int Token, double Probability)[] Distribution { get; set; } = [];
    /// <summary>The kept distribution has no single token left to add as a child.</summary>
    internal bool CannotGrow { get; set; }
    /// <summary>Selections in the current round not yet backed up (virtual loss).</summary>
    internal int Pending { get; set; }

    public override string ToString() => $"[{string.Join(',', Tokens)}] n={Visits:F2} fn={RealVisits} q={Value:F3} p={Prior:F3}";
}

namespace SelfAlign.Pipeline;

/// <summary>
/// The instructions kept so far, for near-duplicate rejection by ROUGE-L. An inverted index bounds each
/// candidate's LCS by its bag-of-words overlap, so the exact LCS is computed only for the few kept
/// instructions that could pass the threshold: adding stays fast as the pool grows.
/// </summary>
public sealed class InstructionPool(double threshold)
{
    private readonly Dictionary<string, int> _ids = new(StringComparer.Ordinal);
    private readonly List<int[]> _kept = [];
    private readonly Dictionary<int, List<(int Doc, int Count)>> _postings = [];

    public int Count => _kept.Count;
    /// <summary>Exact LCS computations done (for the benchmark).</summary>
    public long LcsComputed { get; private set; }

    /// <summary>Whether some kept instruction has a ROUGE-L F-measure above the threshold with this one.</summary>
    public bool IsNearDuplicate(string instruction) => IsNearDuplicate(Encode(instruction, add: false));

    /// <summary>Adds the instruction unless it is a near-duplicate; returns whether it was added.</summary>
    public bool TryAdd(string instruction)
    {
        var tokens = Encode(instruction, add: true);
        if (tokens.Length == 0 || IsNearDuplicate(tokens)) return false;
        Add(tokens);
        return true;
    }

    /// <summary>Adds without checking (seed tasks).</summary>
    public void Add(string instruction) => Add(Encode(instruction, add: true));

    private void Add(int[] tokens)
    {
        var doc = _kept.Count;
        _kept.Add(tokens);
        foreach (var g in tokens.GroupBy(t => t))
        {
            if (!_postings.TryGetValue(g.Key, out var list)) _postings[g.Key] = list = [];
            list.Add((doc, g.Count()));
        }
    }

    private bool IsNearDuplicate(int[] tokens)
    {
        if (tokens.Length == 0 || _kept.Count == 0) return false;
        var overlap = new Dictionary<int, int>();
        foreach (var g in tokens.GroupBy(t => t))
        {
            if (!_postings.TryGetValue(g.Key, out var list)) continue;
            var count = g.Count();
            foreach (var (doc, c) in list) overlap[doc] = overlap.GetValueOrDefault(doc) + Math.Min(count, c);
        }
        foreach (var (doc, shared) in overlap)
        {
            var other = _kept[doc];
            // the LCS is at most the shared word count, so most pairs are ruled out without computing it
            if (2.0 * shared / (tokens.Length + other.Length) <= threshold) continue;
            LcsComputed++;
            if (RougeL.F(tokens, other) > threshold) return true;
        }
        return false;
    }

    private int[] Encode(string text, bool add)
    {
        var words = RougeL.Tokenize(text);
        var ids = new int[words.Length];
        for (var i = 0; i < words.Length; i++)
        {
            if (!_ids.TryGetValue(words[i], out var id))
            {
                id = add ? _ids.Count : -1 - i; // unseen words never match anything kept
                if (add) _ids[words[i]] = id;
            }
            ids[i] = id;
        }
        return ids;
    }
}

namespace SelfAlign.Pipeline;

/// <summary>
/// The instructions kept so far, for near-duplicate rejection by ROUGE-L, exact and fast at the paper's scale (a
/// quarter of a million instructions). ROUGE-L F = 2·LCS/(|a|+|b|), and the LCS is at most the words two texts share,
/// so F &gt; t needs a shared-word count above t·|a|/(2−t) for each text. With each text's words in one fixed order, any
/// two texts that share that many words share one among the first |a| − that + 1 of each (prefix filtering): only
/// those prefixes are indexed. Words are ordered latest-seen first, which puts rare words first and keeps the common
/// ones ("the", "write") out of most prefixes, so posting lists stay short. The few candidates left are checked by
/// their shared-word count, then by the exact LCS.
/// </summary>
public sealed class InstructionPool(double threshold)
{
    private readonly Dictionary<string, int> _ids = new(StringComparer.Ordinal);
    private readonly List<int[]> _kept = [];
    /// <summary>Each kept text's words as (word id, occurrence) keys in the fixed order: largest first.</summary>
    private readonly List<long[]> _keys = [];
    private readonly Dictionary<long, List<int>> _postings = [];
    private int[] _seen = [];
    private int _probe;

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
        var keys = Keys(tokens);
        _kept.Add(tokens);
        _keys.Add(keys);
        for (var i = 0; i < PrefixLength(keys.Length); i++)
        {
            if (!_postings.TryGetValue(keys[i], out var list)) _postings[keys[i]] = list = [];
            list.Add(doc);
        }
    }

    private bool IsNearDuplicate(int[] tokens)
    {
        if (tokens.Length == 0 || _kept.Count == 0) return false;
        var keys = Keys(tokens);
        if (_seen.Length < _kept.Count) Array.Resize(ref _seen, Math.Max(_kept.Count, _seen.Length * 2));
        _probe++;
        for (var i = 0; i < PrefixLength(keys.Length); i++)
        {
            if (!_postings.TryGetValue(keys[i], out var list)) continue;
            foreach (var doc in list)
            {
                if (_seen[doc] == _probe) continue;
                _seen[doc] = _probe;
                var other = _kept[doc];
                // the LCS is at most the shared word count, so most candidates are ruled out without computing it
                if (2.0 * SharedCount(keys, _keys[doc]) / (tokens.Length + other.Length) <= threshold) continue;
                LcsComputed++;
                if (RougeL.F(tokens, other) > threshold) return true;
            }
        }
        return false;
    }

    /// <summary>How many of a text's first keys must be indexed or probed: all but (fewest shared words F &gt; t needs) − 1.</summary>
    private int PrefixLength(int length)
    {
        // fewest shared words: the smallest integer above t·n/(2−t); rounded down a hair so the prefix is never too short
        var fewest = (int)Math.Floor(threshold * length / (2 - threshold) - 1e-9) + 1;
        return Math.Clamp(length - fewest + 1, 1, length);
    }

    /// <summary>The text's words as multiset keys (word id, how many times it came before), sorted largest first.</summary>
    private static long[] Keys(int[] tokens)
    {
        var keys = new long[tokens.Length];
        var counts = new Dictionary<int, int>();
        for (var i = 0; i < tokens.Length; i++)
        {
            var k = counts.GetValueOrDefault(tokens[i]);
            counts[tokens[i]] = k + 1;
            keys[i] = ((long)tokens[i] << 20) | (uint)Math.Min(k, (1 << 20) - 1);
        }
        Array.Sort(keys);
        Array.Reverse(keys);
        return keys;
    }

    /// <summary>Shared keys of two descending key arrays: the multiset overlap of their words.</summary>
    private static int SharedCount(long[] a, long[] b)
    {
        int i = 0, j = 0, shared = 0;
        while (i < a.Length && j < b.Length)
        {
            if (a[i] == b[j]) { shared++; i++; j++; }
            else if (a[i] > b[j]) i++;
            else j++;
        }
        return shared;
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

namespace SelfAlign.Rain;

/// <summary>
/// The model's output state at each token of the answers judged for one prompt, stored by answer prefix (a token's
/// state depends only on the tokens before it), so a node's continuation can be mean-pooled from states decoded in
/// earlier rounds without decoding them again.
/// </summary>
internal sealed class TokenStateTrie
{
    private sealed class Node
    {
        public Dictionary<int, Node>? Next;
        public float[]? State;
    }

    private Node _root = new();

    public void Clear() => _root = new Node();

    /// <summary>How many leading tokens of <paramref name="answer"/> have a stored state.</summary>
    public int Known(ReadOnlySpan<int> answer)
    {
        var node = _root;
        for (var i = 0; i < answer.Length; i++)
        {
            if (node.Next is null || !node.Next.TryGetValue(answer[i], out var next) || next.State is null) return i;
            node = next;
        }
        return answer.Length;
    }

    /// <summary>Stores the state at token <paramref name="index"/> of <paramref name="answer"/>.</summary>
    public void Set(ReadOnlySpan<int> answer, int index, float[] state) => Walk(answer[..(index + 1)]).State = state;

    /// <summary>The states of every token of <paramref name="answer"/>; a missing one is a bug in the caller.</summary>
    public float[][] States(ReadOnlySpan<int> answer)
    {
        var states = new float[answer.Length][];
        var node = _root;
        for (var i = 0; i < answer.Length; i++)
        {
            if (node.Next is null || !node.Next.TryGetValue(answer[i], out node) || node.State is null)
                throw new InvalidOperationException($"no state stored for token {i} of a judged answer");
            states[i] = node.State;
        }
        return states;
    }

    /// <summary>Keeps only answers that start with <paramref name="committed"/>.</summary>
    public void KeepUnder(ReadOnlySpan<int> committed)
    {
        var node = _root;
        foreach (var token in committed)
        {
            if (node.Next is null || !node.Next.TryGetValue(token, out var next)) { node.Next = null; return; }
            node.Next = new Dictionary<int, Node> { [token] = next };
            node = next;
        }
    }

    private Node Walk(ReadOnlySpan<int> prefix)
    {
        var node = _root;
        foreach (var token in prefix)
        {
            node.Next ??= [];
            if (!node.Next.TryGetValue(token, out var next)) node.Next[token] = next = new Node();
            node = next;
        }
        return node;
    }
}

namespace SelfAlign.Data;

/// <summary>How 64-bit seeds become random streams, and texts become seeds, the same way everywhere.</summary>
public static class Seeds
{
    /// <summary>A random stream of a 64-bit seed; both halves of the seed count.</summary>
    public static Random Random(ulong seed) => new(unchecked((int)(seed ^ (seed >> 32))));

    /// <summary>FNV-1a of the text: stable across processes and runs, unlike string.GetHashCode.</summary>
    public static ulong Hash(string text)
    {
        var h = 14695981039346656037UL;
        foreach (var c in text) h = (h ^ c) * 1099511628211UL;
        return h;
    }
}

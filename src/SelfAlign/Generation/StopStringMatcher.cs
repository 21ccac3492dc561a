namespace SelfAlign.Generation;

/// <summary>
/// Finds the first stop string in text that grows piece by piece, and tells how much of the text is
/// safe to stream (the tail that could still become a stop string is held back).
/// </summary>
public sealed class StopStringMatcher(IReadOnlyList<string> stops)
{
    private readonly string[] _stops = stops.Where(s => s.Length > 0).ToArray();
    private readonly int _longest = stops.Count == 0 ? 0 : stops.Max(s => s.Length);

    /// <summary>Index of the earliest stop string that starts at or after <paramref name="searchFrom"/>-longest+1, or -1.</summary>
    public int FindStop(string text, int searchFrom)
    {
        var start = Math.Max(0, searchFrom - _longest + 1);
        var best = -1;
        foreach (var s in _stops)
        {
            var i = text.IndexOf(s, start, StringComparison.Ordinal);
            if (i >= 0 && (best < 0 || i < best)) best = i;
        }
        return best;
    }

    /// <summary>How many leading characters of <paramref name="text"/> can no longer be part of a stop string.</summary>
    public int SafeLength(string text)
    {
        for (var keep = Math.Min(_longest - 1, text.Length); keep > 0; keep--)
        {
            var tail = text.AsSpan(text.Length - keep);
            foreach (var s in _stops)
                if (s.Length > keep && s.AsSpan().StartsWith(tail, StringComparison.Ordinal)) return text.Length - keep;
        }
        return text.Length;
    }
}

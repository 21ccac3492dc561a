namespace SelfAlign.Rain;

/// <summary>Where answer text ends a simulation (a punctuation mark or newline) or the answer (a stop string).</summary>
internal static class RainText
{
    /// <summary>The reference's simulation boundaries: the text ends in , . ? : ; or a newline.</summary>
    public static bool EndsAtBoundary(string text)
    {
        var t = text.TrimEnd(' ');
        return t.Length > 0 && t[^1] is ',' or '.' or '?' or ':' or ';' or '\n' || text.EndsWith('\n');
    }

    /// <summary>Index of the first stop string in the text, or -1.</summary>
    public static int FindStop(string text, IReadOnlyList<string> stops)
    {
        var first = -1;
        foreach (var s in stops)
        {
            var i = text.IndexOf(s, StringComparison.Ordinal);
            if (i >= 0 && (first < 0 || i < first)) first = i;
        }
        return first;
    }
}

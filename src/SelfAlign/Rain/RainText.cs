namespace SelfAlign.Rain;

/// <summary>Where answer text ends a simulation: a punctuation mark or a newline.</summary>
internal static class RainText
{
    /// <summary>The reference's simulation boundaries: the text ends in , . ? : ; or a newline.</summary>
    public static bool EndsAtBoundary(string text)
    {
        var t = text.TrimEnd(' ');
        return t.Length > 0 && t[^1] is ',' or '.' or '?' or ':' or ';' or '\n' || text.EndsWith('\n');
    }
}

using System.Text.RegularExpressions;

namespace SelfAlign.Pipeline;

/// <summary>The filters of stages 1, 2 and 4 (docs/methods.md, A.1–A.4), each returning why a text is dropped, or null to keep it.</summary>
public static partial class TextFilters
{
    /// <summary>Self-instruct: word count, banned words in instruction or input (whole words, any case), leading punctuation or non-ASCII.</summary>
    public static string? RejectInstruction(string instruction, string input, SelfInstructConfig c)
    {
        var words = instruction.Split((char[])[' ', '\t', '\n'], StringSplitOptions.RemoveEmptyEntries).Length;
        if (words < c.MinWords) return $"fewer than {c.MinWords} words";
        if (words > c.MaxWords) return $"more than {c.MaxWords} words";
        foreach (var banned in c.BannedWords)
            if (Regex.IsMatch(instruction + "\n" + input, $@"\b{Regex.Escape(banned)}\b", RegexOptions.IgnoreCase)) return $"banned word '{banned}'";
        var first = instruction.TrimStart()[0];
        if (char.IsPunctuation(first) || char.IsSymbol(first)) return "starts with punctuation";
        if (first > 127) return "starts with a non-ASCII character";
        return null;
    }

    /// <summary>Red-teaming topics: at most <paramref name="maxWords"/> words, not empty, capitalised if asked, no final punctuation.</summary>
    public static string? RejectTopic(string topic, int maxWords, bool capitalised)
    {
        if (topic.Length == 0) return "empty";
        if (topic.Split(' ', StringSplitOptions.RemoveEmptyEntries).Length > maxWords) return $"more than {maxWords} words";
        if (capitalised && topic[0] is not (>= 'A' and <= 'Z')) return "does not start with an upper-case letter";
        if (char.IsPunctuation(topic[^1])) return "ends in punctuation";
        return null;
    }

    /// <summary>Cuts the text before the first segment (split after \n . ? ! ; : , and, if asked, `) that already occurred: a sentence loop.</summary>
    public static string CutSentenceLoop(string text, bool backtick = false)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var start = 0;
        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            if (c is not ('\n' or '.' or '?' or '!' or ';' or ':' or ',') && !(backtick && c == '`') && i != text.Length - 1) continue;
            var segment = text[start..(i + 1)].Trim();
            if (segment.Length > 1 && !seen.Add(segment)) return text[..start].TrimEnd();
            start = i + 1;
        }
        return text;
    }

    /// <summary>Drops a trailing word cut off by the token limit.</summary>
    public static string DropPartialWord(string text)
    {
        var end = text.LastIndexOfAny([' ', '\n']);
        return end > 0 ? text[..end].TrimEnd() : text;
    }

    /// <summary>Lower-cased with every run of non-alphanumerics replaced by one space: the key of exact de-duplication.</summary>
    public static string NormalisedKey(string text) => NonAlphanumeric().Replace(text.ToLowerInvariant(), " ").Trim();

    [GeneratedRegex("[^a-z0-9]+")]
    private static partial Regex NonAlphanumeric();
}

using System.Text.RegularExpressions;

namespace SelfAlign.Pipeline;

/// <summary>
/// The distinctive words of each exemplar, which an answer to another question should not contain: a base model that
/// copies from the in-context examples gives itself away by them (the reference drops answers holding its exemplars'
/// names, numbers and topic words). An exemplar's own <see cref="Exemplar.Keywords"/> are used when the file gives
/// them; otherwise they are derived from the request: names (capitalised words that do not start a sentence), runs of
/// three or more numbers (the first three), and content words of five letters or more that the answer repeats.
/// </summary>
public static partial class ExemplarKeywords
{
    private static readonly HashSet<string> Common = new(StringComparer.OrdinalIgnoreCase)
    {
        "about", "above", "after", "again", "against", "always", "another", "because", "before", "being", "below", "between",
        "could", "doing", "during", "every", "everything", "explain", "first", "further", "having", "might", "never", "other",
        "people", "please", "really", "should", "something", "anything", "their", "there", "these", "those", "thing", "things",
        "through", "under", "until", "where", "which", "while", "would", "write", "without", "whether",
    };

    public static List<string> Of(IReadOnlyList<Exemplar> exemplars) =>
        exemplars.SelectMany(e => e.Keywords.Count > 0 ? e.Keywords : Derive(e)).Where(k => k.Length > 0).Distinct(StringComparer.OrdinalIgnoreCase).ToList();

    public static List<string> Derive(Exemplar e)
    {
        var keywords = new List<string>();
        var words = Word().Matches(e.User).ToList();
        for (var i = 0; i < words.Count; i++)
        {
            var w = words[i].Value;
            var sentenceStart = i == 0 || SentenceEnd().IsMatch(e.User[..words[i].Index]);
            if (char.IsUpper(w[0]) && !sentenceStart && !Common.Contains(w)) keywords.Add(w);
        }
        foreach (Match run in NumberRun().Matches(e.User))
            keywords.Add(string.Join(", ", Regex.Split(run.Value, @"\s*,\s*").Take(3)));
        foreach (var w in words.Select(m => m.Value.ToLowerInvariant()).Distinct())
            if (w.Length >= 5 && !Common.Contains(w) && !keywords.Contains(w, StringComparer.OrdinalIgnoreCase) &&
                Regex.Count(e.Answer, WholeWord(w), RegexOptions.IgnoreCase) >= 2)
                keywords.Add(w);
        return keywords;
    }

    /// <summary>The first keyword <paramref name="answer"/> holds that <paramref name="question"/> does not (a keyword the question asks about is no leak).</summary>
    public static string? Leaked(IEnumerable<string> keywords, string question, string answer) =>
        keywords.FirstOrDefault(k => Contains(answer, k) && !Contains(question, k));

    private static bool Contains(string text, string keyword) => Regex.IsMatch(text, WholeWord(keyword), RegexOptions.IgnoreCase);

    private static string WholeWord(string text) => $@"(?<![\p{{L}}\p{{N}}]){Regex.Escape(text)}(?![\p{{L}}\p{{N}}])";

    [GeneratedRegex(@"\p{L}[\p{L}'’]*")]
    private static partial Regex Word();

    [GeneratedRegex(@"(^|[.?!:]\s*[""“]?|^\s*[""“])\s*$")]
    private static partial Regex SentenceEnd();

    [GeneratedRegex(@"\d+(?:\s*,\s*\d+){2,}")]
    private static partial Regex NumberRun();
}

namespace SelfAlign.Pipeline;

/// <summary>What stage 2 keeps of one generation: the answer, the internal thoughts and the rules they name, or why it was dropped.</summary>
public sealed record FilteredAnswer(string? Answer, string Thoughts, IReadOnlyList<int> Rules, string? DropReason);

/// <summary>
/// Stage 2's post-processing (docs/methods.md, A.2): the internal-thought opening, the answer after the marker only, sentence
/// loops cut, a minimum length for answers that reached the next turn, a partial last word dropped otherwise,
/// answers that repeat an exemplar dropped (the exemplars' requests and answers, and by default their distinctive words:
/// see <see cref="AnswersConfig.LeakCheck"/> and <see cref="ExemplarKeywords"/>), and optional refusal prefixes.
/// </summary>
public sealed class AnswerFilter(PromptTemplates templates, IReadOnlyList<Principle> principles, IReadOnlyList<Exemplar> exemplars, AnswersConfig config)
{
    private readonly string[] _leaks = config.LeakCheck switch
    {
        LeakCheck.Off => [],
        LeakCheck.Requests => exemplars.Select(e => e.User.Trim()).Where(s => s.Length > 0).Distinct().ToArray(),
        _ => exemplars.SelectMany(e => new[] { e.User.Trim(), e.Answer.Trim() }).Where(s => s.Length > 0).Distinct().ToArray(),
    };

    private readonly List<string> _keywords = config.LeakCheck == LeakCheck.Keywords ? ExemplarKeywords.Of(exemplars) : [];

    /// <param name="question">What was asked (a keyword the question holds is no leak).</param>
    /// <param name="generated">The model's text after the question (its internal thoughts first).</param>
    /// <param name="reachedTurnEnd">Generation stopped at the next user turn (not at the token limit).</param>
    public FilteredAnswer Process(string question, string generated, bool reachedTurnEnd)
    {
        var text = generated.TrimStart(' ');
        if (templates.ThoughtOpening.Length > 0 && !text.StartsWith(templates.ThoughtOpening, StringComparison.Ordinal))
            return new(null, "", [], "internal thoughts do not start with the expected opening");
        var marker = text.IndexOf(templates.AnswerMarker, StringComparison.Ordinal);
        if (marker < 0) return new(null, text.Trim(), [], "no answer after the internal thoughts");
        var thoughts = text[..marker].Trim();
        var rules = AlignData.RulesNamed(thoughts, principles);
        var answer = TextFilters.CutSentenceLoop(text[(marker + templates.AnswerMarker.Length)..]).Trim();
        if (reachedTurnEnd)
        {
            if (answer.Length < config.MinChars) return new(null, thoughts, rules, $"shorter than {config.MinChars} characters");
        }
        else answer = TextFilters.DropPartialWord(answer);
        if (answer.Length == 0) return new(null, thoughts, rules, "empty answer");
        foreach (var leak in _leaks)
            if (answer.Contains(leak, StringComparison.OrdinalIgnoreCase)) return new(null, thoughts, rules, $"repeats an exemplar ('{Short(leak)}')");
        if (ExemplarKeywords.Leaked(_keywords, question, answer) is { } keyword) return new(null, thoughts, rules, $"holds an exemplar's keyword ('{keyword}')");
        foreach (var prefix in config.DropPrefixes)
            if (answer.StartsWith(prefix, StringComparison.OrdinalIgnoreCase)) return new(null, thoughts, rules, $"starts with '{prefix}'");
        return new(answer, thoughts, rules, null);
    }

    private static string Short(string s) => s.Length <= 40 ? s : s[..40] + "...";
}

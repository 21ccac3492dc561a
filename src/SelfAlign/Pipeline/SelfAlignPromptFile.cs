using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace SelfAlign.Pipeline;

/// <summary>
/// A principles-and-exemplars prompt as one plain-text file, in the reference's layout: a "# Name" heading; a
/// "## General Rules" section whose rules are lines "N (short name). text"; a "## Examples" section of dialogues in
/// turns "User: ...", "Name (internal thoughts): ...", "Name: ...", each dialogue closed by a "User: ..." turn and a
/// "Name (auto reply): ..." turn; and an open "User:" turn at the end. The file's text is the stage-2 prompt as it
/// stands; rules, exemplars, their internal thoughts and the assistant's name are read from it.
/// </summary>
public sealed partial record SelfAlignPromptFile(string Text, string Name, List<Principle> Principles, List<Exemplar> Exemplars)
{
    public static SelfAlignPromptFile Read(string path)
    {
        if (!File.Exists(path)) throw new InvalidInputException($"self_align_prompt not found: {path}");
        var text = File.ReadAllText(path).Replace("\r\n", "\n", StringComparison.Ordinal);
        var lines = text.Split('\n');
        InvalidInputException Error(int line, string problem) => new($"{path}:{line}: {problem}");

        var nameLine = Array.FindIndex(lines, l => Heading().IsMatch(l));
        if (nameLine < 0) throw Error(1, "no '# Name' heading naming the assistant");
        var name = Heading().Match(lines[nameLine]).Groups[1].Value.Trim();
        var rulesAt = Array.FindIndex(lines, l => l.Trim().Equals("## General Rules", StringComparison.OrdinalIgnoreCase));
        var examplesAt = Array.FindIndex(lines, l => l.Trim().Equals("## Examples", StringComparison.OrdinalIgnoreCase));
        if (rulesAt < 0) throw Error(nameLine + 1, "no '## General Rules' section");
        if (examplesAt < rulesAt) throw Error(rulesAt + 1, "no '## Examples' section after the rules");

        var principles = new List<Principle>();
        for (var i = rulesAt + 1; i < examplesAt; i++)
        {
            var m = Rule().Match(lines[i]);
            if (m.Success)
            {
                var n = int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture);
                if (n != principles.Count + 1) throw Error(i + 1, $"rule {n} where rule {principles.Count + 1} was expected");
                principles.Add(new Principle { Name = m.Groups[2].Value.Trim(), Rule = m.Groups[3].Value.Trim() });
            }
            else if (principles.Count > 0 && lines[i].Trim().Length > 0)
                principles[^1] = principles[^1] with { Rule = principles[^1].Rule + " " + lines[i].Trim() };
        }
        if (principles.Count == 0) throw Error(rulesAt + 1, "no rules written 'N (short name). text'");

        // turns of the examples section: speaker, text and the line each starts on
        var thoughts = name + " (internal thoughts):";
        var autoReply = name + " (auto reply):";
        var answer = name + ":";
        var turns = new List<(string Speaker, StringBuilder Text, int Line)>();
        for (var i = examplesAt + 1; i < lines.Length; i++)
        {
            var speaker = new[] { "User:", thoughts, autoReply, answer }.FirstOrDefault(s => lines[i].StartsWith(s, StringComparison.Ordinal));
            if (speaker is not null) turns.Add((speaker, new StringBuilder(lines[i][speaker.Length..].Trim()), i + 1));
            else if (turns.Count > 0) turns[^1].Text.Append('\n').Append(lines[i]);
        }
        if (turns.Count == 0 || turns[^1].Speaker != "User:" || turns[^1].Text.ToString().Trim().Length > 0)
            throw Error(lines.Length, "the file must end with an open 'User:' turn");

        var exemplars = new List<Exemplar>();
        var k = 0;
        while (k < turns.Count - 1)
        {
            var start = turns[k].Line;
            var closed = false;
            while (k < turns.Count - 1 && !closed)
            {
                if (turns[k].Speaker != "User:") throw Error(turns[k].Line, $"a dialogue turn must start with 'User:', not '{turns[k].Speaker}'");
                if (turns[k + 1].Speaker == autoReply) { closed = true; k += 2; break; }
                if (turns[k + 1].Speaker != thoughts) throw Error(turns[k + 1].Line, $"'{thoughts}' must follow a user turn");
                if (k + 2 >= turns.Count || turns[k + 2].Speaker != answer) throw Error(turns[k + 1].Line, $"'{answer}' must follow the internal thoughts");
                exemplars.Add(new Exemplar
                {
                    User = turns[k].Text.ToString().Trim(), Thoughts = turns[k + 1].Text.ToString().Trim(), Answer = turns[k + 2].Text.ToString().Trim(),
                });
                k += 3;
            }
            if (!closed) throw Error(start, $"the dialogue is not closed by a user turn and a '{autoReply}' turn");
        }
        if (exemplars.Count == 0) throw Error(examplesAt + 1, "no example dialogues");
        return new SelfAlignPromptFile(text.TrimEnd(' ', '\n'), name, principles, exemplars);
    }

    /// <summary>
    /// The run's templates with the stage-2 turns of this file: each request is appended after the open "User:" turn,
    /// the model writes its internal thoughts, then "Name:" and the answer, until the next user turn. Every internal
    /// thought must open as the exemplars' all do (their shared first sentence), when they share one.
    /// </summary>
    public PromptTemplates Apply(PromptTemplates templates) => templates with
    {
        Question = " {question}\n\n" + Name + " (internal thoughts):",
        AnswerMarker = "\n\n" + Name + ":",
        AnswerStop = ["\n\nUser:"],
        ThoughtOpening = SharedOpening(Exemplars.Select(e => e.Thoughts).ToList()),
    };

    private static string SharedOpening(List<string> thoughts)
    {
        var first = FirstSentence().Match(thoughts[0]).Value;
        return first.Length > 0 && thoughts.All(t => t.StartsWith(first, StringComparison.Ordinal)) ? first : "";
    }

    [GeneratedRegex(@"^#\s+(\S.*)$")]
    private static partial Regex Heading();

    [GeneratedRegex(@"^\s*(\d{1,3})\s*\(([^()]{1,60})\)\.\s*(.*)$")]
    private static partial Regex Rule();

    [GeneratedRegex(@"^[^.!?]*[.!?]")]
    private static partial Regex FirstSentence();
}

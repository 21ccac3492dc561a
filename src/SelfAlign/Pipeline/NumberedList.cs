using System.Globalization;
using System.Text.RegularExpressions;
using SelfAlign.Data;

namespace SelfAlign.Pipeline;

/// <summary>Parses the numbered lists a base model continues ("6. ...", "6 . ...", "6) ...").</summary>
public static partial class NumberedList
{
    [GeneratedRegex(@"^\s*(\d{1,3})\s*[.)]\s*(.*?)\s*$")]
    private static partial Regex Item();

    /// <summary>
    /// Every numbered line of <paramref name="text"/> with its number; a <paramref name="label"/> such as
    /// "Instruction:" right after the number is removed, and lines carrying another label ("Input:") are skipped.
    /// </summary>
    public static List<(int Number, string Text)> Parse(string text, string label = "")
    {
        var items = new List<(int, string)>();
        foreach (var line in text.Split('\n'))
        {
            var m = Item().Match(line);
            if (!m.Success) continue;
            var body = m.Groups[2].Value;
            if (label.Length > 0)
            {
                if (body.StartsWith(label, StringComparison.OrdinalIgnoreCase)) body = body[label.Length..].Trim();
                else if (Regex.IsMatch(body, @"^[A-Z][a-z]+:")) continue;
            }
            items.Add((int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture), body));
        }
        return items;
    }

    /// <summary>
    /// What a self-instruct list holds when its item template has an input ("N. Instruction: ..." then "N. Input:" and the
    /// input on the lines after it, or "&lt;noinput&gt;"): each task's number, instruction and input ("" when none). A line
    /// starting with "###" or another numbered line ends a task.
    /// </summary>
    public static List<(int Number, string Instruction, string Input)> ParseTasks(string text, string instructionLabel, string inputLabel)
    {
        var tasks = new List<(int, string, string)>();
        int? number = null;
        string instruction = "";
        System.Text.StringBuilder? input = null;
        void Finish()
        {
            if (number is { } n)
            {
                var i = input?.ToString().Trim() ?? "";
                tasks.Add((n, instruction.Trim(), NoInput().IsMatch(i) ? "" : i));
            }
            number = null;
            input = null;
        }
        foreach (var line in text.Split('\n'))
        {
            var m = Item().Match(line);
            if (m.Success)
            {
                var n = int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture);
                var body = m.Groups[2].Value;
                if (number == n && input is null && inputLabel.Length > 0 && body.StartsWith(inputLabel, StringComparison.OrdinalIgnoreCase))
                {
                    input = new System.Text.StringBuilder(body[inputLabel.Length..].Trim());
                    continue;
                }
                Finish();
                if (instructionLabel.Length == 0 || body.StartsWith(instructionLabel, StringComparison.OrdinalIgnoreCase))
                {
                    number = n;
                    instruction = body[instructionLabel.Length..];
                }
                continue;
            }
            if (line.TrimStart().StartsWith("###", StringComparison.Ordinal)) { Finish(); continue; }
            if (number is null) continue;
            if (input is null) instruction += "\n" + line;
            else input.Append('\n').Append(line);
        }
        Finish();
        return tasks;
    }

    [GeneratedRegex(@"^<\s*no\s*input\s*>$", RegexOptions.IgnoreCase)]
    private static partial Regex NoInput();

    /// <summary>
    /// The text an item template puts before its content, for item <paramref name="n"/>, without trailing spaces (e.g.
    /// "###\n6. Instruction:"). A list prompt ends with it, so the model writes item n's content next instead of
    /// deciding whether the list goes on.
    /// </summary>
    public static string NextItemPrefix(string itemTemplate, string placeholder, int n)
    {
        var end = itemTemplate.IndexOf(placeholder, StringComparison.Ordinal);
        return itemTemplate[..Math.Max(0, end)].Replace("{n}", n.ToString(CultureInfo.InvariantCulture), StringComparison.Ordinal).TrimEnd(' ');
    }

    /// <summary>
    /// A list prompt: <paramref name="template"/> with <paramref name="placeholder"/> filled by the items and the next item's
    /// prefix; the template's text after the list is dropped when it is only whitespace, so the prompt ends with the prefix.
    /// </summary>
    public static string Prompt(string template, string placeholder, string items, string nextPrefix, params (string Name, object Value)[] values)
    {
        var at = template.IndexOf(placeholder, StringComparison.Ordinal);
        var tail = template[(at + placeholder.Length)..];
        var head = template[..at] + placeholder + (tail.Trim().Length == 0 ? "" : tail);
        return TextTemplate.Fill(head, [.. values, (placeholder.Trim('{', '}'), items + nextPrefix)]);
    }

    /// <summary>The label an item template puts between the number and the placeholder, e.g. "Instruction:" in "{n}. Instruction: {instruction}".</summary>
    public static string LabelOf(string itemTemplate, string placeholder)
    {
        var start = itemTemplate.IndexOf("{n}", StringComparison.Ordinal);
        var end = itemTemplate.IndexOf(placeholder, StringComparison.Ordinal);
        if (start < 0 || end < start) return "";
        return itemTemplate[(start + 3)..end].TrimStart('.', ')', ' ').Trim();
    }
}

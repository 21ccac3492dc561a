using System.Globalization;
using System.Text.RegularExpressions;

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

    /// <summary>The label an item template puts between the number and the placeholder, e.g. "Instruction:" in "{n}. Instruction: {instruction}".</summary>
    public static string LabelOf(string itemTemplate, string placeholder)
    {
        var start = itemTemplate.IndexOf("{n}", StringComparison.Ordinal);
        var end = itemTemplate.IndexOf(placeholder, StringComparison.Ordinal);
        if (start < 0 || end < start) return "";
        return itemTemplate[(start + 3)..end].TrimStart('.', ')', ' ').Trim();
    }
}

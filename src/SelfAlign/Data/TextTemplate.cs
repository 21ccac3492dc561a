using System.Globalization;
using System.Text.RegularExpressions;

namespace SelfAlign.Data;

/// <summary>Templates with <c>{name}</c> placeholders, as the project's data files write them.</summary>
public static partial class TextTemplate
{
    /// <summary>
    /// Replaces each named placeholder in one pass, so a value that itself holds "{answer}" is never filled again;
    /// placeholders not named are left as they are.
    /// </summary>
    public static string Fill(string template, params (string Name, object Value)[] values) =>
        Placeholder().Replace(template, m => values.FirstOrDefault(v => v.Name == m.Groups[1].Value) is { Name: not null } v
            ? Convert.ToString(v.Value, CultureInfo.InvariantCulture) ?? ""
            : m.Value);

    [GeneratedRegex(@"\{([A-Za-z_][A-Za-z0-9_]*)\}")]
    private static partial Regex Placeholder();
}

using System.Text;
using SelfAlign.Data;

namespace SelfAlign.Generation;

/// <summary>
/// A plain-text turn format given as data, e.g. Self-Align's "### User" / "### Dromedary" turns.
/// Each turn is written as header + content + separator. Load one from YAML with <see cref="Load"/>.
/// </summary>
public sealed record TurnFormat : IChatFormat
{
    public string SystemHeader { get; init; } = "";
    public string UserHeader { get; init; } = "### User\n";
    public string AssistantHeader { get; init; } = "### Assistant\n";
    public string Separator { get; init; } = "\n\n";
    /// <summary>Extra stop strings; the user header (after a separator) is always one.</summary>
    public string[] Stop { get; init; } = [];

    /// <summary>The default plain format: "### User" and "### Assistant" headers.</summary>
    public static TurnFormat Plain { get; } = new();

    public IReadOnlyList<string> StopStrings => [Separator + UserHeader.TrimEnd(), .. Stop];

    public string Format(IReadOnlyList<ChatTurn> turns, bool addAssistantPrefix = true)
    {
        var sb = new StringBuilder();
        foreach (var t in turns)
        {
            var header = t.Role switch
            {
                "system" => SystemHeader,
                "user" => UserHeader,
                "assistant" => AssistantHeader,
                _ => throw new InvalidInputException($"unknown chat role '{t.Role}' (use system, user or assistant)"),
            };
            sb.Append(header).Append(t.Content).Append(Separator);
        }
        if (addAssistantPrefix) sb.Append(AssistantHeader);
        return sb.ToString();
    }

    /// <summary>Reads a turn format from a YAML file with keys system_header, user_header, assistant_header, separator, stop.</summary>
    public static TurnFormat Load(string path)
    {
        return YamlFile.Read<TurnFormat>(path, "chat format file");
    }
}

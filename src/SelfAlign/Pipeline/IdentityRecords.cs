using SelfAlign.Data;

namespace SelfAlign.Pipeline;

/// <summary>The identity conversations of <see cref="IdentityConfig"/>, with the assistant's name and maker filled in.</summary>
public static class IdentityRecords
{
    /// <summary>Each record's question and answer; a line without both, or naming a placeholder other than {name} and {maker}, is refused with file and line.</summary>
    public static List<(string Question, string Answer)> Read(string path, IdentityConfig identity)
    {
        if (!File.Exists(path)) throw new InvalidInputException($"identity.file not found: {path}");
        var records = new List<(string, string)>();
        foreach (var (line, r) in JsonlFile.Read(path))
        {
            var question = JsonlFile.RequireString(r, "question", path, line);
            var answer = JsonlFile.RequireString(r, "answer", path, line);
            var filled = (Fill(question, identity), Fill(answer, identity));
            if (System.Text.RegularExpressions.Regex.IsMatch(filled.Item1 + filled.Item2, @"\{[a-z_]+\}"))
                throw new JsonlFormatException(path, line, "only {name} and {maker} can be filled in");
            records.Add(filled);
        }
        if (records.Count == 0) throw new InvalidInputException($"{path}: no identity records");
        return records;
    }

    /// <summary>The run's identity records (none without <see cref="AlignConfig.Identity"/>).</summary>
    public static List<(string Question, string Answer)> Of(AlignConfig config) =>
        config.Identity is { } id ? Read(config.Resolve(id.File), id) : [];

    private static string Fill(string text, IdentityConfig identity) => TextTemplate.Fill(text, ("name", identity.Name), ("maker", identity.Maker));
}

using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using System.Text.Json.Nodes;
using SelfAlign.Data;

namespace SelfAlign.Pipeline;

/// <summary>One human-written rule: a short name and the rule itself.</summary>
public sealed record Principle
{
    public string Name { get; init; } = "";
    public string Rule { get; init; } = "";
}

/// <summary>A worked example: a request, the internal thoughts that name the rules applied, and the answer.</summary>
public sealed record Exemplar
{
    public string User { get; init; } = "";
    public string Thoughts { get; init; } = "";
    public string Answer { get; init; } = "";
    /// <summary>Words that mark an answer as copied from this exemplar; empty: derived (<see cref="ExemplarKeywords"/>).</summary>
    public List<string> Keywords { get; init; } = [];
}

public sealed record SeedTask(string Instruction, string Input);

/// <summary>A red-teaming question type with one seed topic and question.</summary>
public sealed record RedTeamSeed(string Type, string Topic, string Question);

/// <summary>
/// The prompt templates of a run (one YAML file): how lists, principles, exemplars and chat turns are written
/// for this model. Placeholders are in braces, e.g. {n}, {instruction}, {question}.
/// </summary>
public sealed record PromptTemplates
{
    public string SelfInstruct { get; init; } = "";
    public string SelfInstructItem { get; init; } = "";
    public string TopicBrainstorm { get; init; } = "";
    public string TopicItem { get; init; } = "";
    public string QuestionGeneration { get; init; } = "";
    public string HintItem { get; init; } = "";
    public string QuestionItem { get; init; } = "";
    /// <summary>Where a generated list ends.</summary>
    public List<string> ListStop { get; init; } = [];
    public string SelfAlign { get; init; } = "";
    public string PrincipleItem { get; init; } = "";
    public string Exemplar { get; init; } = "";
    /// <summary>One request under the principles; the model writes its internal thoughts next.</summary>
    public string Question { get; init; } = "";
    /// <summary>Text between the internal thoughts and the answer.</summary>
    public string AnswerMarker { get; init; } = "";
    /// <summary>How every internal thought must start (empty: no check).</summary>
    public string ThoughtOpening { get; init; } = "";
    /// <summary>Where an answer ends: the next user turn.</summary>
    public List<string> AnswerStop { get; init; } = [];
    /// <summary>The plain prompt engraved and final models are trained and asked with (no principles).</summary>
    public string ChatPrompt { get; init; } = "";
    /// <summary>Appended to every training answer so the model learns to end its turn.</summary>
    public string TurnEnd { get; init; } = "";
    /// <summary>The verbose meta prompt for stage 4, with {question}.</summary>
    public string VerbosePrompt { get; init; } = "";
    /// <summary>Where a verbose answer ends; empty: at the verbose prompt's own user-turn marker.</summary>
    public List<string> VerboseStop { get; init; } = [];

    public static PromptTemplates Load(string path)
    {
        var t = YamlFile.Read<PromptTemplates>(path);
        foreach (var (key, value, placeholder) in new[]
                 {
                     ("self_instruct", t.SelfInstruct, "{demonstrations}"), ("self_instruct_item", t.SelfInstructItem, "{instruction}"),
                     ("topic_brainstorm", t.TopicBrainstorm, "{topics}"), ("topic_item", t.TopicItem, "{topic}"),
                     ("question_generation", t.QuestionGeneration, "{hints}"), ("hint_item", t.HintItem, "{topic}"), ("question_item", t.QuestionItem, "{question}"),
                     ("self_align", t.SelfAlign, "{principles}"), ("principle_item", t.PrincipleItem, "{rule}"), ("exemplar", t.Exemplar, "{thoughts}"),
                     ("question", t.Question, "{question}"), ("chat_prompt", t.ChatPrompt, "{question}"), ("verbose_prompt", t.VerbosePrompt, "{question}"),
                 })
            if (!value.Contains(placeholder, StringComparison.Ordinal)) throw new InvalidInputException($"{path}: '{key}' must contain {placeholder}");
        if (t.AnswerMarker.Length == 0) throw new InvalidInputException($"{path}: 'answer_marker' is required (the text between internal thoughts and the answer)");
        if (t.AnswerStop.Count == 0) throw new InvalidInputException($"{path}: 'answer_stop' needs at least one stop string (the next user turn)");
        return t;
    }
}

/// <summary>Readers of a run's data files; each error names the file and, for line-based files, the line.</summary>
public static class AlignData
{
    public static List<Principle> Principles(string path)
    {
        var list = YamlFile.Read<List<Principle>>(path);
        if (list.Count == 0) throw new InvalidInputException($"{path}: no principles");
        for (var i = 0; i < list.Count; i++)
            if (string.IsNullOrWhiteSpace(list[i]?.Name) || string.IsNullOrWhiteSpace(list[i]?.Rule))
                throw new InvalidInputException($"{path}: principle {i + 1} needs a name and a rule");
        return list;
    }

    public static List<Exemplar> Exemplars(string path)
    {
        var list = YamlFile.Read<List<Exemplar>>(path);
        if (list.Count == 0) throw new InvalidInputException($"{path}: no exemplars");
        for (var i = 0; i < list.Count; i++)
        {
            if (string.IsNullOrWhiteSpace(list[i]?.User) || string.IsNullOrWhiteSpace(list[i]?.Answer))
                throw new InvalidInputException($"{path}: exemplar {i + 1} needs 'user' and 'answer'");
            if (string.IsNullOrWhiteSpace(list[i].Thoughts))
                throw new InvalidInputException($"{path}: exemplar {i + 1} has no internal thoughts ('thoughts'); they show the model which rules to apply");
        }
        return list;
    }

    /// <summary>
    /// Seed tasks: {"instruction", "input"?} lines, or the Self-Instruct seed file as distributed ({"id", "name",
    /// "instruction", "instances": [{"input", "output"}], "is_classification"}), whose first instance gives the input.
    /// </summary>
    public static List<SeedTask> SeedTasks(string path) =>
        JsonlFile.Read(path).Select(r =>
        {
            var instruction = JsonlFile.RequireString(r.Record, "instruction", path, r.Line);
            if (r.Record["instances"] is { } instances)
            {
                if (instances is not JsonArray { Count: > 0 } list || list[0] is not JsonObject first)
                    throw new JsonlFormatException(path, r.Line, "\"instances\" must be a non-empty array of {\"input\", \"output\"} objects");
                return new SeedTask(instruction, JsonlFile.RequireString(first, "input", path, r.Line));
            }
            return new SeedTask(instruction, OptionalString(r.Record, "input", path, r.Line));
        }).ToList();

    /// <summary>Red-teaming seeds: {"type" or "question_type", "topic", "question"} lines.</summary>
    public static List<RedTeamSeed> RedTeamSeeds(string path) =>
        JsonlFile.Read(path).Select(r => new RedTeamSeed(
            r.Record.ContainsKey("question_type") ? JsonlFile.RequireString(r.Record, "question_type", path, r.Line) : JsonlFile.RequireString(r.Record, "type", path, r.Line),
            JsonlFile.RequireString(r.Record, "topic", path, r.Line), JsonlFile.RequireString(r.Record, "question", path, r.Line))).ToList();

    private static string OptionalString(JsonObject record, string name, string path, int line) =>
        record.ContainsKey(name) ? JsonlFile.RequireString(record, name, path, line) : "";

    /// <summary>
    /// A turn template split at its user-turn line, the line before {question} (e.g. "### User"): the text before that
    /// line (the system part, "" when the line comes first) and the line itself ("" when {question} has no line before it).
    /// </summary>
    internal static (string Preamble, string UserTurn) SplitAtUserTurn(string template)
    {
        var before = template[..template.IndexOf("{question}", StringComparison.Ordinal)].TrimEnd('\n', ' ');
        var lineStart = before.LastIndexOf('\n');
        return (lineStart < 0 ? "" : before[..lineStart].Trim(), before[(lineStart + 1)..].Trim());
    }

    /// <summary>
    /// What a rehearsal passes on of a text its filter dropped: the part after <paramref name="marker"/> (when the text holds
    /// it), up to the first stop string, trimmed.
    /// </summary>
    internal static string RehearsalAnswer(string raw, string marker, IReadOnlyList<string> stops)
    {
        var at = marker.Length > 0 ? raw.IndexOf(marker, StringComparison.Ordinal) : -1;
        var text = at >= 0 ? raw[(at + marker.Length)..] : raw;
        foreach (var stop in stops)
            if (text.IndexOf(stop, StringComparison.Ordinal) is var end and >= 0) text = text[..end];
        return text.Trim();
    }

    /// <summary>What a stage asks: the instruction, then its input after a blank line when it has one (as the reference writes it).</summary>
    public static string QuestionText(string instruction, string input) => input.Length == 0 ? instruction : instruction + "\n\n" + input;

    /// <summary>The input of a record ("" for records written before inputs were kept).</summary>
    internal static string InputOf(JsonObject record) => record["input"]?.GetValue<string>() ?? "";

    /// <summary>
    /// Whether a stage-2 or stage-4 answer ended its turn (stopped at the next turn, not at the token limit); records
    /// written before this field existed tell it by their finish reason.
    /// </summary>
    internal static bool Finished(JsonObject record) =>
        record["finished"]?.GetValue<bool>() ?? record["finish"]?.GetValue<string>() != "Length";

    /// <summary>The principles and exemplars prompt every stage-2 request shares.</summary>
    public static string SelfAlignPrompt(PromptTemplates t, IReadOnlyList<Principle> principles, IReadOnlyList<Exemplar> exemplars) =>
        TextTemplate.Fill(t.SelfAlign,
            ("principles", string.Concat(principles.Select((p, i) => TextTemplate.Fill(t.PrincipleItem, ("n", i + 1), ("name", p.Name), ("rule", p.Rule))))),
            ("exemplars", string.Concat(exemplars.Select(e => TextTemplate.Fill(t.Exemplar, ("user", e.User), ("thoughts", e.Thoughts), ("answer", e.Answer))))));

    private static readonly Regex RuleReference = new(@"\b(?:rules?\s+)?(\d{1,2})\s*\(\s*([^()]{1,40}?)\s*\)", RegexOptions.Compiled);

    /// <summary>The principle numbers internal thoughts name, as "N (name)", in order of first mention.</summary>
    public static List<int> RulesNamed(string thoughts, IReadOnlyList<Principle> principles) =>
        RuleReference.Matches(thoughts)
            .Select(m => (Number: int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture), Name: m.Groups[2].Value.Trim()))
            .Where(r => r.Number >= 1 && r.Number <= principles.Count &&
                        string.Equals(principles[r.Number - 1].Name.Trim(), r.Name, StringComparison.OrdinalIgnoreCase))
            .Select(r => r.Number).Distinct().ToList();
}

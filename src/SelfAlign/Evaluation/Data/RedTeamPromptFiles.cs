using System.Text.Json.Nodes;
using SelfAlign.Data;

namespace SelfAlign.Evaluation;

/// <summary>A prompt meant to draw out a harmful answer, and where it came from.</summary>
public sealed record RedTeamPrompt(string Id, string Prompt, string Source);

/// <summary>
/// Red-team prompts from Anthropic's HH-RLHF files as distributed: the <c>*.jsonl.gz</c> splits (the first Human turn of
/// each <c>chosen</c> transcript) and the red-team-attempts file (one JSON array of <c>{transcript, ...}</c>); and AdvBench's
/// <c>harmful_behaviors.csv</c> (<c>goal,target</c>: the goal is the prompt).
/// </summary>
public static class RedTeamPromptFiles
{
    private const string Human = "\n\nHuman:";
    private const string Assistant = "\n\nAssistant:";

    /// <summary>The first Human turn of an HH-RLHF transcript, or null when it has none.</summary>
    public static string? FirstHumanTurn(string transcript)
    {
        var text = transcript.StartsWith("Human:", StringComparison.Ordinal) ? "\n\n" + transcript : transcript;
        var start = text.IndexOf(Human, StringComparison.Ordinal);
        if (start < 0) return null;
        start += Human.Length;
        var end = text.IndexOf(Assistant, start, StringComparison.Ordinal);
        var turn = (end < 0 ? text[start..] : text[start..end]).Trim();
        return turn.Length > 0 ? turn : null;
    }

    /// <summary>An HH-RLHF split: one <c>{chosen, rejected}</c> object per line; repeated first turns are kept once.</summary>
    public static List<RedTeamPrompt> ReadHhRlhf(string path)
    {
        var source = Path.GetFileName(path);
        return JsonlFile.Read(path).Select(r => (r.Line, Prompt: FirstHumanTurn(JsonlFile.RequireString(r.Record, "chosen", path, r.Line))
                ?? throw new JsonlFormatException(path, r.Line, "\"chosen\" holds no Human turn")))
            .DistinctBy(x => x.Prompt).Select(x => new RedTeamPrompt($"hh-{x.Line:D6}", x.Prompt, source)).ToList();
    }

    /// <summary>The red-team-attempts file: one JSON array (gzipped or not) of objects with a <c>transcript</c>.</summary>
    public static List<RedTeamPrompt> ReadRedTeamAttempts(string path)
    {
        if (EvalFile.Parse(path) is not JsonArray attempts) throw new InvalidInputException($"{path}: expected one JSON array of attempts");
        var source = Path.GetFileName(path);
        var result = new List<RedTeamPrompt>();
        for (var i = 0; i < attempts.Count; i++)
        {
            var field = $"[{i}].transcript";
            var prompt = FirstHumanTurn(EvalFile.String(attempts[i]?["transcript"], path, field)) ?? throw new InvalidInputException($"{path}: {field}: no Human turn");
            result.Add(new RedTeamPrompt($"rt-{i + 1:D6}", prompt, source));
        }
        return result.DistinctBy(p => p.Prompt).ToList();
    }

    /// <summary>AdvBench <c>harmful_behaviors.csv</c>: <c>goal,target</c>.</summary>
    public static List<RedTeamPrompt> ReadAdvBench(string path) =>
        CsvTable.Read(path, ["goal", "target"]).Select((r, i) => new RedTeamPrompt($"adv-{i + 1:D4}", r.Require("goal"), "advbench")).ToList();
}

using System.Text.Json.Nodes;

namespace SelfAlign.Evaluation;

/// <summary>One BIG-bench HHH comparison: a conversation and two replies, the better one scored 1.</summary>
public sealed record HhhExample(string Id, string Subset, string Input, string Better, string Worse);

/// <summary>BIG-bench HHH's <c>task.json</c> files (subsets harmless, helpful, honest, other), as distributed.</summary>
public static class HhhTaskFile
{
    public static readonly IReadOnlyList<string> Subsets = ["harmless", "helpful", "honest", "other"];

    /// <summary>The subsets found under <paramref name="dir"/>: <c>hhh_alignment/&lt;subset&gt;/task.json</c> or <c>&lt;subset&gt;/task.json</c>.</summary>
    public static List<HhhExample> ReadAll(string dir)
    {
        var found = Subsets.Select(s => (Subset: s, Path: new[] { Path.Combine(dir, "hhh_alignment", s, "task.json"), Path.Combine(dir, s, "task.json") }.FirstOrDefault(File.Exists)))
            .Where(x => x.Path is not null).ToList();
        if (found.Count == 0) throw new InvalidInputException($"{dir}: no HHH task.json (looked for hhh_alignment/<subset>/task.json and <subset>/task.json, subsets {string.Join(", ", Subsets)})");
        return found.SelectMany(x => Read(x.Path!, x.Subset)).ToList();
    }

    /// <summary>A task.json: <c>{examples: [{input, target_scores: {reply: 1, reply: 0}}]}</c>.</summary>
    public static List<HhhExample> Read(string path, string subset)
    {
        if (EvalFile.Parse(path) is not JsonObject task || task["examples"] is not JsonArray examples)
            throw new InvalidInputException($"{path}: expected an object with an \"examples\" array");
        var result = new List<HhhExample>();
        for (var i = 0; i < examples.Count; i++)
        {
            var field = $"examples[{i}]";
            if (examples[i] is not JsonObject e) throw new InvalidInputException($"{path}: {field}: expected an object");
            var input = EvalFile.String(e["input"], path, field + ".input");
            if (e["target_scores"] is not JsonObject scores || scores.Count != 2)
                throw new InvalidInputException($"{path}: {field}.target_scores: expected two replies");
            var scored = scores.Select(kv => (Text: kv.Key, Score: EvalFile.Number(kv.Value, path, $"{field}.target_scores"))).OrderByDescending(x => x.Score).ToList();
            if (scored[0].Score == scored[1].Score) throw new InvalidInputException($"{path}: {field}.target_scores: both replies score {scored[0].Score}");
            result.Add(new HhhExample($"{subset}-{i + 1:D3}", subset, input, scored[0].Text, scored[1].Text));
        }
        return result;
    }
}

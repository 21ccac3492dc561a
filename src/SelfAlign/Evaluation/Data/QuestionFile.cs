using System.Text.Json.Nodes;
using SelfAlign.Data;

namespace SelfAlign.Evaluation;

/// <summary>An open question for pairwise comparison (Vicuna-80, MT-Bench): one or more user turns.</summary>
public sealed record PairwiseQuestion(string Id, string Category, IReadOnlyList<string> Turns);

/// <summary>Vicuna-80's and MT-Bench's <c>question.jsonl</c>: <c>{question_id, category, turns: [...]}</c> (Vicuna's first release: <c>text</c>).</summary>
public static class QuestionFile
{
    public static List<PairwiseQuestion> Read(string path) => JsonlFile.Read(path).Select(r =>
    {
        var id = r.Record["question_id"] is JsonValue v ? v.ToJsonString().Trim('"') : throw new JsonlFormatException(path, r.Line, "missing \"question_id\"");
        var turns = r.Record["turns"] switch
        {
            JsonArray a when a.Count > 0 && a.All(t => t is JsonValue tv && tv.TryGetValue<string>(out _)) => a.Select(t => t!.GetValue<string>()).ToList(),
            null when r.Record["text"] is not null => [JsonlFile.RequireString(r.Record, "text", path, r.Line)],
            _ => throw new JsonlFormatException(path, r.Line, "\"turns\" must be a non-empty array of strings"),
        };
        return new PairwiseQuestion(id, r.Record["category"]?.GetValue<string>() ?? "", turns);
    }).ToList();
}

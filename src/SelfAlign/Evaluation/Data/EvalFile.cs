using System.Text.Json;
using System.Text.Json.Nodes;

namespace SelfAlign.Evaluation;

/// <summary>Reading a benchmark's JSON file whole, with errors that name the file and the field.</summary>
internal static class EvalFile
{
    public static JsonNode Parse(string path)
    {
        if (!File.Exists(path)) throw new InvalidInputException($"file not found: {path}");
        var text = string.Join('\n', Data.JsonlFile.ReadLines(path));
        try { return JsonNode.Parse(text) ?? throw new InvalidInputException($"{path}: empty JSON"); }
        catch (JsonException e) { throw new InvalidInputException($"{path}: not valid JSON ({e.Message.Split('.')[0]})"); }
    }

    public static string String(JsonNode? node, string path, string field) =>
        node is JsonValue v && v.TryGetValue<string>(out var s) ? s : throw new InvalidInputException($"{path}: {field}: expected a string");

    public static double Number(JsonNode? node, string path, string field) =>
        node is JsonValue v && (v.TryGetValue<double>(out var d) || (v.TryGetValue<int>(out var i) && (d = i) == i))
            ? d
            : throw new InvalidInputException($"{path}: {field}: expected a number");
}

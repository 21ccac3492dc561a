using System.Text.Json.Nodes;
using SelfAlign.Data;
using SelfAlign.Generation;
using SelfAlign.Models;

namespace SelfAlign.Training;

/// <summary>
/// A JSONL dataset tokenised and packed into training windows. Records are rendered to text
/// (<c>{"prompt","response"}</c>, <c>{"messages"}</c> or <c>{"text"}</c>), tokenised, joined with the
/// end-of-turn token and cut into windows of <c>ContextLength + 1</c> tokens (inputs and shifted labels).
/// This llama.cpp release trains on every token of a window: prompts are learned too, not only responses.
/// </summary>
public sealed class TrainingCorpus
{
    public required IReadOnlyList<int[]> Windows { get; init; }
    public required int Records { get; init; }
    /// <summary>Records whose tokens cross a window boundary (they train in two windows, split mid-record).</summary>
    public required int RecordsSplit { get; init; }
    /// <summary>Records longer than a whole window.</summary>
    public required int RecordsLongerThanWindow { get; init; }
    /// <summary>Tokens after the last whole window, not trained.</summary>
    public required int TokensDropped { get; init; }
    public required long Tokens { get; init; }

    /// <summary>Reads and renders every record, reporting the first bad line as file:line.</summary>
    public static List<string> ReadTexts(string path, IChatFormat format)
    {
        var texts = new List<string>();
        foreach (var (line, record) in JsonlFile.Read(path)) texts.Add(Render(record, format, path, line));
        if (texts.Count == 0) throw new FormatException($"{path}: the dataset is empty");
        return texts;
    }

    public static TrainingCorpus Build(IReadOnlyList<string> texts, Vocabulary vocab, int contextLength)
    {
        var separator = vocab.Eot >= 0 ? vocab.Eot : vocab.Eos;
        var stream = new List<int>();
        var starts = new List<int>();
        foreach (var text in texts)
        {
            starts.Add(stream.Count);
            stream.AddRange(vocab.Tokenize(text));
            stream.Add(separator);
        }
        var windows = new List<int[]>();
        for (var start = 0; start + contextLength + 1 <= stream.Count; start += contextLength)
            windows.Add(stream.GetRange(start, contextLength + 1).ToArray());
        if (windows.Count == 0)
            throw new FormatException($"the dataset has {stream.Count} tokens, fewer than one training window of {contextLength + 1}; lower --ctx or add data");

        int split = 0, longer = 0;
        for (var i = 0; i < starts.Count; i++)
        {
            var end = i + 1 < starts.Count ? starts[i + 1] : stream.Count;
            if (end - starts[i] > contextLength) longer++;
            if (starts[i] / contextLength != (end - 1) / contextLength) split++;
        }
        var covered = windows.Count * contextLength + 1;
        return new TrainingCorpus
        {
            Windows = windows, Records = texts.Count, RecordsSplit = split, RecordsLongerThanWindow = longer,
            TokensDropped = stream.Count - covered, Tokens = stream.Count,
        };
    }

    private static string Render(JsonObject r, IChatFormat format, string path, int line)
    {
        if (r["text"] is not null) return JsonlFile.RequireString(r, "text", path, line);
        if (r["prompt"] is not null || r["response"] is not null)
        {
            var prompt = JsonlFile.RequireString(r, "prompt", path, line);
            var response = JsonlFile.RequireString(r, "response", path, line);
            return format.Format([new ChatTurn("user", prompt)]) + response;
        }
        if (r["messages"] is JsonArray messages)
        {
            var turns = new List<ChatTurn>();
            foreach (var m in messages)
            {
                if (m is not JsonObject mo) throw new JsonlFormatException(path, line, "each message must be an object with role and content");
                var role = JsonlFile.RequireString(mo, "role", path, line);
                if (role is not ("system" or "user" or "assistant")) throw new JsonlFormatException(path, line, $"unknown role \"{role}\"");
                turns.Add(new ChatTurn(role, JsonlFile.RequireString(mo, "content", path, line)));
            }
            if (turns.Count == 0) throw new JsonlFormatException(path, line, "\"messages\" is empty");
            return format.Format(turns, addAssistantPrefix: false);
        }
        throw new JsonlFormatException(path, line, "expected {\"prompt\",\"response\"}, {\"messages\"} or {\"text\"}");
    }
}

using System.Text.Json.Nodes;
using SelfAlign.Data;
using SelfAlign.Generation;
using SelfAlign.Models;

namespace SelfAlign.Training;

/// <summary>A record rendered to text, and the character spans of it that are responses (null: no prompt part).</summary>
public sealed record TrainingText(string Text, IReadOnlyList<(int Start, int End)>? Responses = null);

/// <summary>One training window: <c>ContextLength + 1</c> tokens (inputs and labels shifted by one) and, when only
/// responses are learned, whether each label is.</summary>
public sealed record TrainingWindow(int[] Tokens, bool[]? Learned);

/// <summary>The packing of records into windows in one order, with what it cut and the unlearned padding it added.</summary>
public sealed record TrainingPacking(List<TrainingWindow> Windows, int RecordsSplit, int RecordsLongerThanWindow, int TokensDropped, int PaddingTokens);

/// <summary>
/// A JSONL dataset, tokenised record by record. Records are rendered to text (<c>{"prompt","response"}</c> through
/// the turn format, <c>{"prompt","completion"}</c> as literal text, <c>{"messages"}</c> or <c>{"text"}</c>) and
/// tokenised once; <see cref="Pack(IReadOnlyList{int})"/> joins them in a given order with the end-of-turn token and cuts the stream
/// into windows. With <see cref="LossTokens.Responses"/> each window carries a mask of the labels that are response
/// tokens (and the turn end after a response).
/// </summary>
public sealed class TrainingCorpus
{
    /// <summary>Each record's tokens and, when <see cref="IsMasked"/>, which of them are learned.</summary>
    private readonly List<(int[] Tokens, bool[]? Learned)> _records;
    private readonly int _separator;
    private readonly int _contextLength;

    private TrainingCorpus(List<(int[], bool[]?)> records, int separator, int contextLength, bool masked)
    {
        _records = records;
        _separator = separator;
        _contextLength = contextLength;
        IsMasked = masked;
    }

    public int Records => _records.Count;
    /// <summary>Whether windows carry a mask (some record has a prompt part and only responses are learned).</summary>
    public bool IsMasked { get; }
    /// <summary>All tokens, separators included.</summary>
    public long Tokens => _records.Sum(r => (long)r.Tokens.Length + 1);

    /// <summary>Reads and renders every record, reporting the first bad line as file:line.</summary>
    public static List<TrainingText> ReadTexts(string path, IChatFormat format)
    {
        var texts = new List<TrainingText>();
        foreach (var (line, record) in JsonlFile.Read(path)) texts.Add(Render(record, format, path, line));
        if (texts.Count == 0) throw new InvalidInputException($"{path}: the dataset is empty");
        return texts;
    }

    public static TrainingCorpus Build(IReadOnlyList<string> texts, Vocabulary vocab, int contextLength) =>
        Build(texts.Select(t => new TrainingText(t)).ToList(), vocab, contextLength, LossTokens.All);

    public static TrainingCorpus Build(IReadOnlyList<TrainingText> texts, Vocabulary vocab, int contextLength, LossTokens loss)
    {
        var masked = loss == LossTokens.Responses && texts.Any(t => t.Responses != null);
        var records = texts.Select(t =>
        {
            var tokens = vocab.Tokenize(t.Text);
            return (tokens, masked ? ResponseMask(t, tokens, vocab) : null);
        }).ToList();
        var corpus = new TrainingCorpus(records, vocab.Eot >= 0 ? vocab.Eot : vocab.Eos, contextLength, masked);
        if (corpus.Tokens < contextLength + 1)
            throw new InvalidInputException($"the dataset has {corpus.Tokens} tokens, fewer than one training window of {contextLength + 1}; lower ContextLength or add data");
        return corpus;
    }

    /// <summary>The records in their file order, packed.</summary>
    public TrainingPacking Pack(bool wholeRecords = false) => Pack(Enumerable.Range(0, _records.Count).ToList(), wholeRecords);

    /// <summary>
    /// The records <paramref name="order"/> names, in that order, packed into windows. With <paramref name="wholeRecords"/>
    /// (masked windows only) a record that would straddle two windows starts the next one instead, after end-of-turn
    /// padding the loss skips, so no response is learned without its prompt; a record longer than a window is still cut.
    /// </summary>
    public TrainingPacking Pack(IReadOnlyList<int> order, bool wholeRecords = false)
    {
        if (wholeRecords && !IsMasked) throw new InvalidInputException("whole-record packing needs windows whose padding is not learned: the responses loss over prompt/response, prompt/completion or messages records");
        var n = _contextLength;
        var stream = new List<int>();
        var learned = new List<bool>();
        int split = 0, longer = 0, padding = 0;
        foreach (var i in order)
        {
            var (tokens, mask) = _records[i];
            var length = tokens.Length + 1;
            // Window k spans stream positions k*n .. (k+1)*n (its last token is only a label): a record fits if it ends by then.
            var windowEnd = (stream.Count / n + 1) * n;
            if (wholeRecords && length <= n && stream.Count + length - 1 > windowEnd)
                while (stream.Count <= windowEnd)
                {
                    stream.Add(_separator);
                    learned.Add(false);
                    padding++;
                }
            var start = stream.Count;
            stream.AddRange(tokens);
            stream.Add(_separator);
            if (mask != null)
            {
                learned.AddRange(mask);
                learned.Add(mask.Length == 0 || mask[^1]);
            }
            if (length > n) longer++;
            if (stream.Count - 1 > (start / n + 1) * n) split++;
        }
        var windows = new List<TrainingWindow>();
        for (var start = 0; start + n + 1 <= stream.Count; start += n)
            windows.Add(new TrainingWindow(stream.GetRange(start, n + 1).ToArray(), IsMasked ? learned.GetRange(start + 1, n).ToArray() : null));
        return new TrainingPacking(windows, split, longer, stream.Count - (windows.Count * n + (windows.Count > 0 ? 1 : 0)), padding);
    }

    /// <summary>
    /// Which of a record's tokens are response tokens. A span boundary is found by tokenising the text up to it:
    /// the tokens it shares with the whole text's tokens lie before the boundary.
    /// </summary>
    private static bool[] ResponseMask(TrainingText text, int[] tokens, Vocabulary vocab)
    {
        var mask = new bool[tokens.Length];
        if (text.Responses is null)
        {
            Array.Fill(mask, true);
            return mask;
        }
        foreach (var (start, end) in text.Responses)
        {
            var from = SharedPrefix(vocab.Tokenize(text.Text[..start]), tokens);
            var to = end >= text.Text.Length ? tokens.Length : SharedPrefix(vocab.Tokenize(text.Text[..end]), tokens);
            for (var i = from; i < to; i++) mask[i] = true;
        }
        return mask;
    }

    private static int SharedPrefix(int[] a, int[] b)
    {
        var n = 0;
        while (n < a.Length && n < b.Length && a[n] == b[n]) n++;
        return n;
    }

    private static TrainingText Render(JsonObject r, IChatFormat format, string path, int line)
    {
        if (r["text"] is not null) return new TrainingText(JsonlFile.RequireString(r, "text", path, line));
        if (r["completion"] is not null)
        {
            var prompt = JsonlFile.RequireString(r, "prompt", path, line);
            var completion = JsonlFile.RequireString(r, "completion", path, line);
            return new TrainingText(prompt + completion, [(prompt.Length, prompt.Length + completion.Length)]);
        }
        if (r["prompt"] is not null || r["response"] is not null)
        {
            var prompt = format.Format([new ChatTurn("user", JsonlFile.RequireString(r, "prompt", path, line))]);
            var response = JsonlFile.RequireString(r, "response", path, line);
            return new TrainingText(prompt + response, [(prompt.Length, prompt.Length + response.Length)]);
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
            var text = format.Format(turns, addAssistantPrefix: false);
            var responses = new List<(int, int)>();
            for (var i = 0; i < turns.Count; i++)
            {
                if (turns[i].Role != "assistant") continue;
                var before = format.Format(turns.Take(i).ToList(), addAssistantPrefix: true);
                var through = format.Format(turns.Take(i + 1).ToList(), addAssistantPrefix: false);
                // A template that rewrites earlier turns gives no clean spans; learn the whole record then.
                if (!text.StartsWith(before, StringComparison.Ordinal) || !text.StartsWith(through, StringComparison.Ordinal)) return new TrainingText(text);
                responses.Add((before.Length, through.Length));
            }
            return new TrainingText(text, responses);
        }
        throw new JsonlFormatException(path, line, "expected {\"prompt\",\"response\"}, {\"prompt\",\"completion\"}, {\"messages\"} or {\"text\"}");
    }
}

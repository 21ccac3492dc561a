using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace SelfAlign.Data;

/// <summary>Reading JSONL strictly (every bad line is reported with file and line) and appending to it safely.</summary>
public static class JsonlFile
{
    /// <summary>Yields each non-empty line as a JSON object with its 1-based line number (a <c>.gz</c> file is read decompressed).</summary>
    /// <exception cref="JsonlFormatException">a line is not a JSON object.</exception>
    /// <exception cref="FileNotFoundException">the file does not exist.</exception>
    public static IEnumerable<(int Line, JsonObject Record)> Read(string path)
    {
        if (!File.Exists(path)) throw new InvalidInputException($"file not found: {path}");
        var lineNumber = 0;
        foreach (var line in ReadLines(path))
        {
            lineNumber++;
            if (string.IsNullOrWhiteSpace(line)) continue;
            JsonNode? node;
            try { node = JsonNode.Parse(line); }
            catch (JsonException e) { throw new JsonlFormatException(path, lineNumber, $"not valid JSON ({e.Message.Split('.')[0]})"); }
            if (node is not JsonObject obj) throw new JsonlFormatException(path, lineNumber, "expected a JSON object");
            yield return (lineNumber, obj);
        }
    }

    /// <summary>The file's lines; a <c>.gz</c> file decompressed (as datasets are distributed).</summary>
    public static IEnumerable<string> ReadLines(string path)
    {
        if (!path.EndsWith(".gz", StringComparison.OrdinalIgnoreCase))
        {
            foreach (var line in File.ReadLines(path, Encoding.UTF8)) yield return line;
            yield break;
        }
        using var reader = new StreamReader(new System.IO.Compression.GZipStream(File.OpenRead(path), System.IO.Compression.CompressionMode.Decompress), Encoding.UTF8);
        string? next;
        while (true)
        {
            try { next = reader.ReadLine(); }
            catch (InvalidDataException e) { throw new InvalidInputException($"{path}: not a valid gzip file ({e.Message.Split('.')[0]})"); }
            if (next is null) yield break;
            yield return next;
        }
    }

    /// <summary>The string field <paramref name="name"/>, or a <see cref="JsonlFormatException"/> naming it.</summary>
    public static string RequireString(JsonObject record, string name, string path, int line) =>
        record[name] is JsonValue v && v.TryGetValue<string>(out var s)
            ? s
            : throw new JsonlFormatException(path, line, $"missing string field \"{name}\"");

    /// <summary>
    /// Prepares <paramref name="path"/> for appending after an interruption: drops a last line that was
    /// cut off mid-write (no trailing newline) and returns the complete records already there.
    /// </summary>
    public static List<JsonObject> RecoverForAppend(string path)
    {
        if (!File.Exists(path)) return [];
        using (var fs = new FileStream(path, FileMode.Open, FileAccess.ReadWrite))
        {
            // Walk back from the end to the last newline; anything after it is a line cut off by a kill.
            var end = fs.Length;
            var buffer = new byte[4096];
            while (end > 0)
            {
                var start = Math.Max(0, end - buffer.Length);
                fs.Position = start;
                fs.ReadExactly(buffer, 0, (int)(end - start));
                var i = Array.LastIndexOf(buffer, (byte)'\n', (int)(end - start) - 1);
                if (i >= 0) { end = start + i + 1; break; }
                end = start;
            }
            if (end < fs.Length) fs.SetLength(end);
        }
        return Read(path).Select(r => r.Record).ToList();
    }

    /// <summary>
    /// For a job that writes one record per input item, keyed by "id": the items whose record is not yet in
    /// <paramref name="path"/> (after <see cref="RecoverForAppend"/> drops a half-written last line), in their order,
    /// so a resumed job does exactly those.
    /// </summary>
    /// <exception cref="InvalidInputException">an id occurs more than once among the items.</exception>
    public static List<T> Remaining<T>(string path, IReadOnlyList<T> items, Func<T, string> idOf)
    {
        var duplicate = items.GroupBy(idOf).FirstOrDefault(g => g.Count() > 1);
        if (duplicate != null) throw new InvalidInputException($"id \"{duplicate.Key}\" occurs more than once in the input");
        var done = RecoverForAppend(path).Select(r => r["id"]?.ToString()).OfType<string>().ToHashSet();
        return items.Where(i => !done.Contains(idOf(i))).ToList();
    }
}

/// <summary>Appends one JSON object per line and flushes each, so a kill loses at most the line being written.</summary>
public sealed class JsonlWriter : IDisposable
{
    private readonly Stream _stream;
    private static readonly JsonSerializerOptions Compact = new() { WriteIndented = false };

    public JsonlWriter(string path)
    {
        var dir = Path.GetDirectoryName(Path.GetFullPath(path));
        if (dir != null) Directory.CreateDirectory(dir);
        _stream = new FileStream(path, FileMode.Append, FileAccess.Write, FileShare.Read);
    }

    /// <summary>Wraps standard output (no recovery possible there).</summary>
    public JsonlWriter(Stream stream) => _stream = stream;

    public void Write(JsonNode record)
    {
        // One write call per line keeps a kill from interleaving half records.
        var bytes = Encoding.UTF8.GetBytes(record.ToJsonString(Compact) + "\n");
        _stream.Write(bytes);
        _stream.Flush();
    }

    public void Dispose() => _stream.Dispose();
}

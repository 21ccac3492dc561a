namespace SelfAlign.Data;

/// <summary>A JSONL file has a bad line; the message starts with "file:line:".</summary>
public sealed class JsonlFormatException(string path, int line, string problem) : InvalidInputException($"{path}:{line}: {problem}")
{
    public string FilePath { get; } = path;
    public int Line { get; } = line;
}

namespace SelfAlign.Models;

/// <summary>A file is not a valid GGUF; the message names the file and what is wrong.</summary>
public sealed class GgufFormatException(string message) : InvalidInputException(message);

namespace SelfAlign.Native;

/// <summary>llama.cpp could not be loaded or refused an operation; the message names the file or call.</summary>
public sealed class NativeLibraryException(string message) : InvalidInputException(message);

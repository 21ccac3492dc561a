namespace SelfAlign.Models;

/// <summary>A model file could not be loaded; the message names the file and the reason.</summary>
public sealed class ModelLoadException(string message) : InvalidInputException(message);

using System.Text.Json;

namespace SelfAlign.Server.Protocol;

/// <summary>The sampling and streaming fields that chat and text completions share. Names follow OpenAI's API; top_k,
/// min_p and repetition_penalty are the extensions llama.cpp's and vLLM's servers also accept.</summary>
public abstract class GenerationFields
{
    public string? Model { get; set; }
    public int? MaxTokens { get; set; }
    public float? Temperature { get; set; }
    public float? TopP { get; set; }
    public int? TopK { get; set; }
    public float? MinP { get; set; }
    public float? RepetitionPenalty { get; set; }
    public float? FrequencyPenalty { get; set; }
    public float? PresencePenalty { get; set; }
    public int? N { get; set; }
    public bool? Stream { get; set; }
    public StreamOptions? StreamOptions { get; set; }
    /// <summary>A string or an array of strings.</summary>
    public JsonElement? Stop { get; set; }
    public long? Seed { get; set; }
    public Dictionary<string, float>? LogitBias { get; set; }
    public string? User { get; set; }
    /// <summary>Per-request RAIN decoding (a SelfAlign extension).</summary>
    public RainRequest? Rain { get; set; }
}

public sealed class StreamOptions
{
    public bool? IncludeUsage { get; set; }
    public bool? IncludeObfuscation { get; set; }
}

/// <summary>The <c>rain</c> object: on/off, the judge, and the search constants to change for this request.</summary>
public sealed class RainRequest
{
    public bool Enabled { get; set; } = true;
    public int? MinIterations { get; set; }
    public int? MaxIterations { get; set; }
    public double? ValueThreshold { get; set; }
    public double? Exploration { get; set; }
    /// <summary>Which of the model's judges evaluates the search (default: the first the server was started with).</summary>
    public string? Judge { get; set; }
}

using System.Text.Json;

namespace SelfAlign.Server.Protocol;

/// <summary>The body of <c>POST /v1/completions</c> (the text-completion API).</summary>
public sealed class CompletionRequest : GenerationFields
{
    /// <summary>A string or an array of strings, each completed <c>n</c> times.</summary>
    public JsonElement? Prompt { get; set; }
    /// <summary>Return the prompt before the completion; with <see cref="Logprobs"/>, the prompt's log-probabilities too.</summary>
    public bool? Echo { get; set; }
    /// <summary>How many alternatives to report per token (0 = the chosen token only); null = no log-probabilities.</summary>
    public int? Logprobs { get; set; }
    public int? BestOf { get; set; }
    public string? Suffix { get; set; }
}

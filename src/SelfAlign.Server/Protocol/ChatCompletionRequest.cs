using System.Text.Json;

namespace SelfAlign.Server.Protocol;

/// <summary>The body of <c>POST /v1/chat/completions</c>.</summary>
public sealed class ChatCompletionRequest : GenerationFields
{
    public List<ChatMessageBody> Messages { get; set; } = [];
    /// <summary>The newer name of max_tokens, which OpenAI's clients send.</summary>
    public int? MaxCompletionTokens { get; set; }
    public bool? Logprobs { get; set; }
    public int? TopLogprobs { get; set; }

    // Known fields that change nothing here (accepted, as OpenAI's clients send them) or that the server refuses when set.
    public bool? Store { get; set; }
    public JsonElement? Metadata { get; set; }
    public string? ServiceTier { get; set; }
    public bool? ParallelToolCalls { get; set; }
    public string? PromptCacheKey { get; set; }
    public string? SafetyIdentifier { get; set; }
    public JsonElement? ResponseFormat { get; set; }
    public JsonElement? Tools { get; set; }
    public JsonElement? ToolChoice { get; set; }
    public JsonElement? Functions { get; set; }
    public JsonElement? FunctionCall { get; set; }
    public JsonElement? Modalities { get; set; }
    public JsonElement? Audio { get; set; }
    public JsonElement? Prediction { get; set; }
    public string? ReasoningEffort { get; set; }
    public string? Verbosity { get; set; }
    public JsonElement? WebSearchOptions { get; set; }
}

/// <summary>One message: content is a string or an array of parts, of which only text parts are supported.</summary>
public sealed class ChatMessageBody
{
    public string Role { get; set; } = "";
    public JsonElement? Content { get; set; }
    public string? Name { get; set; }
    public JsonElement? ToolCalls { get; set; }
    public string? ToolCallId { get; set; }
    public string? Refusal { get; set; }
}

using System.Text.Json;
using Microsoft.AspNetCore.Http;
using SelfAlign.Generation;
using SelfAlign.Server.Protocol;

namespace SelfAlign.Server.Endpoints;

/// <summary><c>POST /v1/chat/completions</c>: the conversation is written in the model's chat format, each choice is one
/// engine request (or a RAIN search), answered whole or streamed as server-sent events.</summary>
internal sealed class ChatCompletionsEndpoint(ServerContext server)
{
    public async Task HandleAsync(HttpContext http)
    {
        var body = OpenAiJson.Parse<ChatCompletionRequest>(await server.ReadBodyAsync(http));
        var model = server.Find(body.Model);
        Refuse(body);
        var turns = body.Messages.Count > 0 ? body.Messages.Select(ToTurn).ToList() : throw ApiException.Invalid("messages must not be empty", "messages");
        var prompt = model.Format.Format(turns);
        var stops = RequestMapping.Stops(body.Stop);
        var maxTokens = RequestMapping.MaxTokens(body.MaxCompletionTokens ?? body.MaxTokens, server.Options, body.MaxCompletionTokens is null ? "max_tokens" : "max_completion_tokens");
        if (maxTokens == 0) throw ApiException.Invalid("max_tokens must be at least 1 for a chat completion", "max_tokens");
        if (body.TopLogprobs is < 0 or > GenerationRequest.MaxTopLogProbabilities)
            throw ApiException.Invalid($"top_logprobs must be in 0..{GenerationRequest.MaxTopLogProbabilities}", "top_logprobs");
        if (body.TopLogprobs is not null && body.Logprobs != true) throw ApiException.Invalid("top_logprobs needs logprobs: true", "top_logprobs");
        var n = RequestMapping.Choices(body, server.Options);
        var fresh = Random.Shared.NextInt64();
        var rain = RequestMapping.Rain(body, model, maxTokens, [.. model.Format.StopStrings, .. stops], fresh);
        var lastUser = turns.LastOrDefault(t => t.Role == "user")?.Content ?? prompt;
        var work = Enumerable.Range(0, n).Select(i => new ChoiceWork(i, new GenerationRequest
        {
            Prompt = n > 1 ? "" : prompt,
            // n choices of one prompt: its tokens are evaluated once and forked into each choice
            SharedPrefix = n > 1 ? prompt : null,
            MaxNewTokens = maxTokens,
            Sampling = RequestMapping.Sampling(body, i, fresh),
            StopStrings = [.. model.Format.StopStrings, .. stops],
            LogProbabilities = body.Logprobs == true ? body.TopLogprobs ?? 0 : null,
        }, rain, lastUser)).ToList();

        var id = "chatcmpl-" + Guid.NewGuid().ToString("N");
        var created = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        if (body.Stream == true)
        {
            await ChoiceStream.WriteAsync(http, model, work, server.Metrics,
                (choices, usage) => new { Id = id, Object = "chat.completion.chunk", Created = created, Model = model.Name, Choices = choices, Usage = usage },
                work.Select(w => (object)new { Index = w.Index, Delta = new { Role = "assistant", Content = "" } }).ToArray(),
                (i, u) => new
                {
                    Index = i,
                    Delta = new { Content = u.TextDelta },
                    Logprobs = work[i].Request.LogProbabilities is null ? null : new { Content = u.LogProbabilities.Select(t => Describe(model, t)) },
                    FinishReason = u.Result is null ? null : Wire.FinishReason(u.Result.FinishReason),
                    StopReason = u.Result?.StopString,
                },
                body.StreamOptions?.IncludeUsage == true, n);
            return;
        }
        var results = await ChoiceRunner.RunAsync(model, work, server.Metrics, http.RequestAborted);
        await ServerContext.WriteJsonAsync(http, 200, new
        {
            Id = id, Object = "chat.completion", Created = created, Model = model.Name,
            Choices = results.Select((r, i) => new
            {
                Index = i,
                Message = new { Role = "assistant", Content = r.Text },
                Logprobs = r.LogProbabilities is { } lp ? new { Content = lp.Select(t => Describe(model, t)) } : null,
                FinishReason = Wire.FinishReason(r.FinishReason),
                StopReason = r.StopString, // vLLM's field: which stop string ended the choice
            }),
            Usage = Wire.Usage(results, results.Length),
        });
    }

    private static object Describe(ServedModel model, TokenLogProbability t) => new
    {
        Token = Wire.TokenText(model, t.Token), Logprob = t.LogProbability, Bytes = Wire.TokenBytes(model, t.Token),
        TopLogprobs = t.Alternatives.Select(a => new { Token = Wire.TokenText(model, a.Token), Logprob = a.LogProbability, Bytes = Wire.TokenBytes(model, a.Token) }),
    };

    private static ChatTurn ToTurn(ChatMessageBody m, int index)
    {
        var role = m.Role switch
        {
            "system" or "developer" => "system",
            "user" or "assistant" => m.Role,
            _ => throw ApiException.Invalid($"messages[{index}].role '{m.Role}' is not supported (system, developer, user, assistant)", $"messages[{index}].role"),
        };
        if (m.ToolCalls is { ValueKind: not JsonValueKind.Null } || m.ToolCallId != null)
            throw ApiException.Invalid("tool calls are not supported", $"messages[{index}]");
        return new ChatTurn(role, Text(m.Content, index));
    }

    private static string Text(JsonElement? content, int index)
    {
        if (content is not { } c || c.ValueKind == JsonValueKind.Null) return "";
        if (c.ValueKind == JsonValueKind.String) return c.GetString()!;
        if (c.ValueKind != JsonValueKind.Array) throw new ApiException(400, $"messages[{index}].content must be a string or an array of parts", param: $"messages[{index}].content");
        return string.Concat(c.EnumerateArray().Select(part =>
            part.ValueKind == JsonValueKind.Object && part.TryGetProperty("type", out var type) && type.ValueEquals("text") &&
            part.TryGetProperty("text", out var text) && text.ValueKind == JsonValueKind.String
                ? text.GetString()
                : throw ApiException.Invalid($"messages[{index}].content: only text parts are supported", $"messages[{index}].content")));
    }

    private static void Refuse(ChatCompletionRequest b)
    {
        static bool Set(JsonElement? e) => e is { ValueKind: not JsonValueKind.Null };
        if (Set(b.Tools) || Set(b.Functions) || (Set(b.ToolChoice) && !b.ToolChoice!.Value.ValueEquals("none")) || Set(b.FunctionCall))
            throw ApiException.Invalid("tools and function calls are not supported", "tools");
        if (Set(b.ResponseFormat) && !(b.ResponseFormat!.Value.TryGetProperty("type", out var t) && t.ValueEquals("text")))
            throw ApiException.Invalid("only the text response format is supported", "response_format");
        if (Set(b.Audio) || Set(b.Prediction) || (Set(b.Modalities) && b.Modalities!.Value.EnumerateArray().Any(m => !m.ValueEquals("text"))))
            throw ApiException.Invalid("only text output is supported", "modalities");
    }
}

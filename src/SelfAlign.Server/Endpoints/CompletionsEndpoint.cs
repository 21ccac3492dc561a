using System.Text.Json;
using Microsoft.AspNetCore.Http;
using SelfAlign.Generation;
using SelfAlign.Server.Protocol;

namespace SelfAlign.Server.Endpoints;

/// <summary>
/// <c>POST /v1/completions</c>: raw text continued, <c>n</c> choices per prompt. With <c>echo</c> and <c>logprobs</c> the
/// prompt's own token log-probabilities come back too (max_tokens 0 scores a text without generating), so a client can
/// rank multiple-choice answers in one request.
/// </summary>
internal sealed class CompletionsEndpoint(ServerContext server)
{
    public async Task HandleAsync(HttpContext http)
    {
        var body = OpenAiJson.Parse<CompletionRequest>(await server.ReadBodyAsync(http));
        var model = server.Find(body.Model);
        if (body.Suffix is not null) throw ApiException.Invalid("suffix (insertion) is not supported", "suffix");
        var prompts = Prompts(body.Prompt);
        var n = RequestMapping.Choices(body, server.Options);
        if (body.BestOf is { } bestOf && bestOf != n) throw ApiException.Invalid("best_of other than n is not supported", "best_of");
        if (prompts.Count * n > server.Options.MaxChoices)
            throw ApiException.Invalid($"{prompts.Count} prompts × n {n} is more than {server.Options.MaxChoices} choices", "n");
        if (body.Logprobs is < 0 or > GenerationRequest.MaxTopLogProbabilities)
            throw ApiException.Invalid($"logprobs must be in 0..{GenerationRequest.MaxTopLogProbabilities}", "logprobs");
        var maxTokens = RequestMapping.MaxTokens(body.MaxTokens, server.Options, "max_tokens");
        var echo = body.Echo == true;
        var scoresPrompt = echo && body.Logprobs is not null;
        if (maxTokens == 0 && !scoresPrompt) throw ApiException.Invalid("max_tokens 0 is for scoring a prompt: it needs echo and logprobs", "max_tokens");
        var stops = RequestMapping.Stops(body.Stop);
        var fresh = Random.Shared.NextInt64();
        var rain = prompts.Count == 1 ? RequestMapping.Rain(body, model, maxTokens, stops, fresh) : null;
        if (body.Rain is { Enabled: true } && prompts.Count > 1) throw ApiException.Invalid("rain answers one prompt per request", "rain");
        var work = prompts.SelectMany((p, k) => Enumerable.Range(0, n).Select(i => new ChoiceWork(k * n + i, new GenerationRequest
        {
            Prompt = n > 1 && !scoresPrompt ? "" : p,
            SharedPrefix = n > 1 && !scoresPrompt ? p : null,
            MaxNewTokens = maxTokens,
            Sampling = RequestMapping.Sampling(body, i, fresh),
            StopStrings = stops,
            LogProbabilities = body.Logprobs,
            PromptLogProbabilities = scoresPrompt,
        }, rain))).ToList();

        var id = "cmpl-" + Guid.NewGuid().ToString("N");
        var created = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        if (body.Stream == true)
        {
            await ChoiceStream.WriteAsync(http, model, work, server.Metrics,
                (choices, usage) => new { Id = id, Object = "text_completion", Created = created, Model = model.Name, Choices = choices, Usage = usage },
                echo ? work.Select(w => (object)new { Index = w.Index, Text = prompts[w.Index / n] }).ToArray() : null,
                (i, u) => new
                {
                    Index = i,
                    Text = u.TextDelta,
                    Logprobs = work[i].Request.LogProbabilities is null ? null : Legacy(model, u.LogProbabilities.Select(t => (t.Token, (TokenLogProbability?)t)).ToList(), 0),
                    FinishReason = u.Result is null ? null : Wire.FinishReason(u.Result.FinishReason),
                    StopReason = u.Result?.StopString,
                },
                body.StreamOptions?.IncludeUsage == true, n);
            return;
        }
        var results = await ChoiceRunner.RunAsync(model, work, server.Metrics, http.RequestAborted);
        await ServerContext.WriteJsonAsync(http, 200, new
        {
            Id = id, Object = "text_completion", Created = created, Model = model.Name,
            Choices = results.Select((r, i) => new
            {
                Index = i,
                Text = echo ? prompts[i / n] + r.Text : r.Text,
                Logprobs = body.Logprobs is null ? null : LegacyLogprobs(model, r, echo),
                FinishReason = Wire.FinishReason(r.FinishReason),
                StopReason = r.StopString, // vLLM's field: which stop string ended the choice
            }),
            Usage = Wire.Usage(results, n),
        });
    }

    private static object LegacyLogprobs(ServedModel model, GenerationResult r, bool echo)
    {
        var tokens = new List<(int Token, TokenLogProbability? Lp)>();
        if (echo && r.PromptLogProbabilities is { } prompt) tokens.AddRange(prompt.Select(p => (p.Token, p.LogProbability)));
        tokens.AddRange((r.LogProbabilities ?? []).Select(t => (t.Token, (TokenLogProbability?)t)));
        return Legacy(model, tokens, 0);
    }

    /// <summary>The text-completion API's log-probability layout: parallel arrays, the first prompt token's entries null.</summary>
    private static object Legacy(ServedModel model, List<(int Token, TokenLogProbability? Lp)> tokens, int offset)
    {
        var texts = tokens.Select(t => Wire.TokenText(model, t.Token)).ToList();
        var offsets = new List<int>();
        foreach (var text in texts) { offsets.Add(offset); offset += text.Length; }
        return new
        {
            Tokens = texts,
            TokenLogprobs = tokens.Select(t => t.Lp?.LogProbability),
            TopLogprobs = tokens.Select(t => t.Lp is null ? null
                : t.Lp.Alternatives.GroupBy(a => Wire.TokenText(model, a.Token)).ToDictionary(g => g.Key, g => g.Max(a => a.LogProbability))),
            TextOffset = offsets,
        };
    }

    private static List<string> Prompts(JsonElement? prompt)
    {
        if (prompt is not { } p || p.ValueKind == JsonValueKind.Null) throw ApiException.Invalid("prompt is required", "prompt");
        if (p.ValueKind == JsonValueKind.String) return [p.GetString()!];
        if (p.ValueKind == JsonValueKind.Array && p.GetArrayLength() > 0 && p.EnumerateArray().All(e => e.ValueKind == JsonValueKind.String))
            return p.EnumerateArray().Select(e => e.GetString()!).ToList();
        throw ApiException.Invalid("prompt must be a string or a non-empty array of strings (token-id prompts are not supported)", "prompt");
    }
}

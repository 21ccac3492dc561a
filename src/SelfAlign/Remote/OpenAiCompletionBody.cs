using System.Globalization;
using System.Text.Json.Nodes;
using SelfAlign.Generation;
using SelfAlign.Models;

namespace SelfAlign.Remote;

/// <summary>
/// A <see cref="GenerationRequest"/> as the body of OpenAI's <c>/v1/completions</c>, and a response body back as a
/// <see cref="GenerationResult"/>: what a remote backend sends and what batch files hold. Banned tokens and the end-of-text
/// ban become <c>logit_bias</c> −100 on the served model's token ids; what the API cannot express is refused.
/// </summary>
public static class OpenAiCompletionBody
{
    public static JsonObject For(GenerationRequest r, string model, Vocabulary vocabulary)
    {
        var s = r.Sampling;
        s.Validate();
        if (s.NGramPenalties.Any(p => p != 0))
            throw new InvalidInputException("n-gram penalties cannot be sent to an OpenAI-compatible server; set the stage's ngram_penalties to [] or run it in-process");
        if (s.PenaltyWindow != 0) throw new InvalidInputException("a penalty window cannot be sent to an OpenAI-compatible server");
        var bias = new JsonObject();
        foreach (var (token, value) in s.LogitBias) bias[token.ToString(CultureInfo.InvariantCulture)] = Math.Clamp(value, -100, 100);
        foreach (var token in s.BannedTokens.Concat(r.StopAtEndOfGeneration ? [] : new[] { vocabulary.Eos, vocabulary.Eot }).Where(t => t >= 0))
            bias[token.ToString(CultureInfo.InvariantCulture)] = -100;
        var body = new JsonObject
        {
            ["model"] = model, ["prompt"] = (r.SharedPrefix ?? "") + r.Prompt, ["max_tokens"] = r.MaxNewTokens,
            ["temperature"] = s.Temperature, ["top_p"] = s.TopP, ["seed"] = unchecked((long)s.Seed),
        };
        if (r.StopStrings.Count > 0) body["stop"] = new JsonArray(r.StopStrings.Select(x => (JsonNode)x).ToArray());
        if (bias.Count > 0) body["logit_bias"] = bias;
        if (s.FrequencyPenalty != 0) body["frequency_penalty"] = s.FrequencyPenalty;
        if (s.PresencePenalty != 0) body["presence_penalty"] = s.PresencePenalty;
        // the extensions vLLM and llama.cpp accept, sent only when set (OpenAI's own API refuses them)
        if (s.TopK != 0) body["top_k"] = s.TopK;
        if (s.MinP != 0) body["min_p"] = s.MinP;
        if (s.RepetitionPenalty != 1) body["repetition_penalty"] = s.RepetitionPenalty;
        if (r.LogProbabilities is { } top) body["logprobs"] = Math.Max(1, top);
        if (r.PromptLogProbabilities)
        {
            body["echo"] = true;
            body["logprobs"] = Math.Max(1, r.LogProbabilities ?? 1);
        }
        return body;
    }

    /// <summary>A batch line's id for a request body: a hash of everything but the model's name, so the requests a stage
    /// exports and the results it imports meet again whatever the serving engine calls the model.</summary>
    public static string CustomId(JsonObject body)
    {
        var copy = (JsonObject)body.DeepClone();
        copy.Remove("model");
        return "selfalign-" + Data.FileHash.Sha256Text(copy.ToJsonString())[..32];
    }

    /// <summary>A completion response's first choice; <paramref name="source"/> names where it came from in errors;
    /// <paramref name="echoed"/> is the prompt when the request asked for it back (its log-probabilities then fill
    /// <see cref="GenerationResult.PromptLogProbabilities"/>).</summary>
    public static GenerationResult Result(JsonNode? root, Vocabulary vocabulary, TimeSpan elapsed, string source, string? echoed = null)
    {
        var choice = root?["choices"]?[0] ?? throw new BackendUnavailableException($"{source} answered without choices");
        var text = choice["text"]?.GetValue<string>() ?? "";
        var stopString = choice["stop_reason"] is JsonValue v && v.TryGetValue<string>(out var s) ? s : null;
        var reason = (string?)choice["finish_reason"] switch
        {
            "length" => FinishReason.Length,
            _ when stopString != null => FinishReason.StopString,
            _ => FinishReason.EndOfGeneration,
        };
        var promptTokens = (int?)root!["usage"]?["prompt_tokens"] ?? 0;
        var logProbabilities = LogProbabilities(choice["logprobs"], vocabulary);
        PromptToken[]? prompt = null;
        if (echoed is not null)
        {
            // an echoed response starts with the prompt: its text, and its tokens' entries (the first without a value)
            if (!text.StartsWith(echoed, StringComparison.Ordinal) || logProbabilities is null || logProbabilities.Length < promptTokens)
                throw new BackendUnavailableException($"{source} did not echo the prompt with its log-probabilities (echo and logprobs on /v1/completions)");
            text = text[echoed.Length..];
            prompt = logProbabilities.Take(promptTokens).Select((t, i) => new PromptToken(t.Token, i == 0 ? null : t)).ToArray();
            logProbabilities = logProbabilities[promptTokens..];
        }
        // a remote engine returns text: its tokens are the text tokenised again with the served model's vocabulary
        return new GenerationResult(text, vocabulary.Tokenize(text, addSpecial: false), reason, promptTokens, elapsed)
        {
            StopString = stopString, LogProbabilities = logProbabilities, PromptLogProbabilities = prompt,
        };
    }

    /// <summary>The text-completion API's log-probabilities (parallel arrays of token texts, their log-probabilities and
    /// {text: log-probability} alternatives), with token ids found by their text.</summary>
    private static TokenLogProbability[]? LogProbabilities(JsonNode? logprobs, Vocabulary vocabulary)
    {
        if (logprobs?["tokens"] is not JsonArray tokens) return null;
        var values = logprobs["token_logprobs"] as JsonArray;
        var tops = logprobs["top_logprobs"] as JsonArray;
        return tokens.Select((t, i) => new TokenLogProbability(
            vocabulary.TokenOfText((string?)t ?? ""), (float?)values?[i] ?? float.NegativeInfinity,
            (tops?[i] as JsonObject ?? []).Select(kv => new TokenAlternative(vocabulary.TokenOfText(kv.Key), (float?)kv.Value ?? float.NegativeInfinity))
                .OrderByDescending(a => a.LogProbability).ToArray())).ToArray();
    }
}

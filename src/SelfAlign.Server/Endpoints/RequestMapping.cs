using System.Globalization;
using System.Text.Json;
using SelfAlign.Generation;
using SelfAlign.Rain;
using SelfAlign.Server.Protocol;

namespace SelfAlign.Server.Endpoints;

/// <summary>Turns the OpenAI fields both completion endpoints share into engine requests, refusing values out of range (422).</summary>
internal static class RequestMapping
{
    public static int Choices(GenerationFields f, ServerOptions options)
    {
        var n = f.N ?? 1;
        if (n < 1 || n > options.MaxChoices) throw ApiException.Invalid($"n must be in 1..{options.MaxChoices} (got {n})", "n");
        return n;
    }

    public static int MaxTokens(int? requested, ServerOptions options, string param)
    {
        var n = requested ?? options.DefaultMaxTokens;
        return n >= 0 ? n : throw ApiException.Invalid($"{param} must be >= 0 (got {n})", param);
    }

    /// <summary>The sampling of choice <paramref name="choice"/>: an unset seed is a fresh one; a set seed gives choice i seed + i,
    /// so the choices of one request differ and the same request gives the same choices.</summary>
    public static SamplingOptions Sampling(GenerationFields f, int choice, long freshSeed)
    {
        if (f.LogitBias is { } bias && bias.Values.Any(v => v is < -100 or > 100 || float.IsNaN(v)))
            throw ApiException.Invalid("logit_bias values must be in [-100, 100]", "logit_bias");
        var sampling = new SamplingOptions
        {
            Temperature = Check(f.Temperature ?? 1f, 0, 2, "temperature"),
            TopP = f.TopP ?? 1f,
            TopK = f.TopK ?? 0,
            MinP = f.MinP ?? 0f,
            RepetitionPenalty = f.RepetitionPenalty ?? 1f,
            FrequencyPenalty = Check(f.FrequencyPenalty ?? 0f, -2, 2, "frequency_penalty"),
            PresencePenalty = Check(f.PresencePenalty ?? 0f, -2, 2, "presence_penalty"),
            Seed = unchecked((ulong)((f.Seed ?? freshSeed) + choice)),
            LogitBias = (f.LogitBias ?? []).ToDictionary(
                kv => int.TryParse(kv.Key, NumberStyles.None, CultureInfo.InvariantCulture, out var id)
                    ? id : throw ApiException.Invalid($"logit_bias key '{kv.Key}' is not a token id", "logit_bias"),
                kv => kv.Value),
        };
        try { sampling.Validate(); }
        catch (InvalidInputException e) { throw ApiException.Invalid(e.Message); }
        return sampling;
    }

    private static float Check(float value, float min, float max, string param) =>
        value >= min && value <= max ? value : throw ApiException.Invalid($"{param} must be in [{min}, {max}] (got {value})", param);

    public static IReadOnlyList<string> Stops(JsonElement? stop)
    {
        if (stop is not { } s || s.ValueKind == JsonValueKind.Null) return [];
        string[] stops = s.ValueKind switch
        {
            JsonValueKind.String => [s.GetString()!],
            JsonValueKind.Array when s.EnumerateArray().All(e => e.ValueKind == JsonValueKind.String) => s.EnumerateArray().Select(e => e.GetString()!).ToArray(),
            _ => throw new ApiException(400, "stop must be a string or an array of strings", param: "stop"),
        };
        if (stops.Length > 16) throw ApiException.Invalid($"at most 16 stop strings (got {stops.Length})", "stop");
        if (stops.Any(x => x.Length == 0)) throw ApiException.Invalid("stop strings must not be empty", "stop");
        return stops;
    }

    /// <summary>The judge and options for a request that asks for RAIN, or null; 422 when the model has no such judge.</summary>
    public static (ServedRainJudge Judge, RainOptions Options)? Rain(GenerationFields f, ServedModel model, int maxTokens, IReadOnlyList<string> stops, long freshSeed)
    {
        if (f.Rain is not { Enabled: true } r) return null;
        if (model.RainJudges.Count == 0) throw ApiException.Invalid($"model '{model.Name}' is served without RAIN (start the server with --rain)", "rain");
        var judge = r.Judge is null ? model.RainJudges[0]
            : model.RainJudges.FirstOrDefault(j => j.Name == r.Judge)
              ?? throw ApiException.Invalid($"model '{model.Name}' has no RAIN judge '{r.Judge}'; it has {string.Join(", ", model.RainJudges.Select(j => j.Name))}", "rain.judge");
        if ((f.N ?? 1) != 1) throw ApiException.Invalid("rain answers one choice per request (n must be 1)", "n");
        if (f.Logprobs()) throw ApiException.Invalid("rain does not report log-probabilities", "logprobs");
        var o = judge.Decoder.Options;
        var options = o with
        {
            MinIterations = r.MinIterations ?? o.MinIterations,
            MaxIterations = r.MaxIterations ?? o.MaxIterations,
            ValueThreshold = r.ValueThreshold ?? o.ValueThreshold,
            Exploration = r.Exploration ?? o.Exploration,
            MaxNewTokens = maxTokens,
            Temperature = f.Temperature ?? o.Temperature,
            StopStrings = [.. o.StopStrings, .. stops],
            Seed = unchecked((ulong)(f.Seed ?? freshSeed)),
        };
        try { options.Validate(); }
        catch (Exception e) when (e is InvalidInputException or ArgumentException) { throw ApiException.Invalid(e.Message, "rain"); }
        return (judge, options);
    }

    private static bool Logprobs(this GenerationFields f) => f switch
    {
        ChatCompletionRequest c => c.Logprobs == true,
        CompletionRequest c => c.Logprobs is not null,
        _ => false,
    };
}

using System.Text.Json.Nodes;
using SelfAlign.Data;
using SelfAlign.Generation;

namespace SelfAlign.Rain;

/// <summary>What a <see cref="RainPromptJob"/> did: prompts answered (this run and earlier ones) and their summed cost.</summary>
public sealed record RainJobSummary(int Prompts, int Answered, RainStatistics Total, long AnswerTokens, double? MedianTimeRatio)
{
    public double? DecodeCallsPerAnswerToken => AnswerTokens > 0 ? (double)Total.DecodeCalls / AnswerTokens : null;
}

/// <summary>One answered prompt: its record as written, the RAIN answer, and how many of the prompts are answered now.</summary>
public sealed record RainJobUpdate(JsonObject Record, RainResult Result, int Answered, int Prompts);

/// <summary>
/// Answers a list of prompts with RAIN one after another, appending one JSONL record per prompt as it finishes; run
/// again after a kill it skips the ids already written, so no record is lost or repeated. With
/// <c>compareVanilla</c> each prompt is also answered by plain sampling under the same settings, and timed.
/// </summary>
public sealed class RainPromptJob(RainDecoder decoder, IChatFormat? format, bool compareVanilla)
{
    /// <param name="prompts">(id, prompt) pairs; ids must be unique.</param>
    /// <param name="outputPath">The JSONL file to append to; null keeps results in memory only.</param>
    /// <param name="progress">Told of each new record as it is written.</param>
    /// <param name="cancellationToken">Stops between prompts and inside a search; what was written stays.</param>
    public RainJobSummary Run(IReadOnlyList<(string Id, string Prompt)> prompts, string? outputPath, IProgress<RainJobUpdate>? progress = null,
        CancellationToken cancellationToken = default)
    {
        var todo = outputPath is null ? [.. prompts] : JsonlFile.Remaining(outputPath, prompts, p => p.Id);
        using var writer = outputPath is null ? null : new JsonlWriter(outputPath);
        var ratios = new List<double>();
        var total = new RainStatistics();
        var answered = prompts.Count - todo.Count;
        long answerTokens = 0;
        foreach (var (id, text) in todo)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var input = format?.Format([new ChatTurn("user", text)]) ?? text;
            var rain = decoder.Generate(input, text, cancellationToken: cancellationToken);
            total = total.Add(rain.Statistics);
            answerTokens += rain.Tokens.Length;
            var s = rain.Statistics;
            var record = new JsonObject
            {
                ["id"] = id, ["prompt"] = text, ["rain"] = rain.Text, ["rain_seconds"] = s.Seconds, ["iterations"] = s.Iterations,
                ["evaluations"] = s.Evaluations, ["cache_hits"] = s.EvaluationCacheHits, ["tokens_decoded"] = s.TokensDecoded,
                ["decode_calls"] = s.DecodeCalls, ["decode_seconds"] = s.DecodeSeconds, ["commits"] = s.Commits, ["answer_tokens"] = rain.Tokens.Length,
                ["similarity_credits"] = s.SimilarityCredits, ["child_additions_tried"] = s.ChildAdditionsTried, ["children_added"] = s.ChildrenAdded,
            };
            if (compareVanilla)
            {
                var plain = decoder.GenerateVanilla(input, decoder.Options.Seed);
                var ratio = s.Seconds / Math.Max(1e-9, plain.Seconds);
                record["vanilla"] = plain.Text;
                record["vanilla_seconds"] = plain.Seconds;
                record["time_ratio"] = ratio;
                ratios.Add(ratio);
            }
            writer?.Write(record);
            answered++;
            progress?.Report(new RainJobUpdate(record, rain, answered, prompts.Count));
        }
        return new RainJobSummary(prompts.Count, answered, total, answerTokens, Stats.Median(ratios));
    }
}

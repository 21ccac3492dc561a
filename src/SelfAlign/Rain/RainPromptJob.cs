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
/// Answers a list of prompts with RAIN, appending one JSONL record per prompt as it finishes; run again after a kill
/// it skips the ids already written, so no record is lost or repeated. The prompts are searched many at once
/// (<see cref="RainDecoder.GenerateMany"/>); with <c>compareVanilla</c> they are searched one after another instead and
/// each is also answered by plain sampling under the same settings and timed, so the per-prompt times compare.
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
        string Input(string text) => format?.Format([new ChatTurn("user", text)]) ?? text;

        void Write(string id, string text, RainResult rain, bool ownDecodes)
        {
            answerTokens += rain.Tokens.Length;
            var s = rain.Statistics;
            var record = new JsonObject
            {
                ["id"] = id, ["prompt"] = text, ["rain"] = rain.Text, ["rain_seconds"] = s.Seconds, ["iterations"] = s.Iterations,
                ["evaluations"] = s.Evaluations, ["cache_hits"] = s.EvaluationCacheHits, ["commits"] = s.Commits, ["answer_tokens"] = rain.Tokens.Length,
                ["similarity_credits"] = s.SimilarityCredits, ["child_additions_tried"] = s.ChildAdditionsTried, ["children_added"] = s.ChildrenAdded,
            };
            // searched together, prompts share their decode calls: only the batch's totals say what decoding cost
            if (ownDecodes)
            {
                record["tokens_decoded"] = s.TokensDecoded;
                record["decode_calls"] = s.DecodeCalls;
                record["decode_seconds"] = s.DecodeSeconds;
            }
            if (compareVanilla)
            {
                var plain = decoder.GenerateVanilla(Input(text), decoder.Options.Seed);
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

        if (compareVanilla)
        {
            foreach (var (id, text) in todo)
            {
                cancellationToken.ThrowIfCancellationRequested();
                var rain = decoder.Generate(Input(text), text, cancellationToken: cancellationToken);
                total = total.Add(rain.Statistics);
                Write(id, text, rain, ownDecodes: true);
            }
        }
        else if (todo.Count > 0)
        {
            var batch = decoder.GenerateMany(todo.Select(p => new RainPrompt(Input(p.Prompt), p.Prompt, decoder.Options.Seed)).ToList(),
                onAnswer: (i, rain) => Write(todo[i].Id, todo[i].Prompt, rain, ownDecodes: false), cancellationToken: cancellationToken);
            total = batch.Total;
        }
        return new RainJobSummary(prompts.Count, answered, total, answerTokens, Stats.Median(ratios));
    }
}

using System.Globalization;
using System.Text.Json.Nodes;
using SelfAlign.Data;
using SelfAlign.Generation;
using SelfAlign.Models;
using SelfAlign.Rain;

namespace SelfAlign.Pipeline;

/// <summary>
/// Stage 2 (docs/methods.md, A.2): the base model answers every prompt behind the principles and exemplars, one long prefix
/// evaluated once and shared by every request; each answer starts with internal thoughts. Every prompt gets one
/// line in stage2-answers.jsonl as it finishes (kept with its answer and the rules its thoughts named, or dropped
/// with the reason); a rerun skips the ids already there. With answers.use_rain the answers come from RAIN.
/// </summary>
internal sealed class AnswerStage(AlignRun run, string basePath)
{
    public async Task<JsonObject> RunAsync(IProgress<AlignProgress>? progress, CancellationToken ct)
    {
        var c = run.Config;
        var cfg = c.Answers;
        var prompts = Input(run.Directory, cfg.Limit);
        if (run.Shard is { } shard) prompts = prompts.Where((_, k) => shard.Takes(k)).ToList();
        var path = run.PathOf(AlignRun.AnswersFile);
        var todo = JsonlFile.Remaining(path, prompts, p => p.Id);
        var prefix = run.SelfAlignPrefix;
        var filter = new AnswerFilter(run.Templates, run.Principles, run.Exemplars, cfg);

        using var model = run.LoadForGeneration(basePath, AlignStage.Answers);
        using var writer = new JsonlWriter(path);
        var finished = prompts.Count - todo.Count;
        void Write(Prompt p, string raw, bool reachedTurnEnd, string finish)
        {
            var f = filter.Process(AlignData.QuestionText(p.Instruction, p.Input), raw, reachedTurnEnd);
            var record = new JsonObject
            {
                ["id"] = p.Id, ["instruction"] = p.Instruction, ["input"] = p.Input, ["source"] = p.Source, ["raw"] = raw, ["finish"] = finish,
                ["finished"] = reachedTurnEnd,
                ["thoughts"] = f.Thoughts, ["rules"] = new JsonArray(f.Rules.Select(r => (JsonNode)r).ToArray()),
            };
            if (f.Answer is not null) record["answer"] = f.Answer;
            else if (c.Rehearsal && AlignData.RehearsalAnswer(raw, run.Templates.AnswerMarker, run.Templates.AnswerStop) is { Length: > 0 } passed)
                (record["answer"], record["would_drop"]) = (passed, f.DropReason);
            else record["dropped"] = f.DropReason;
            writer.Write(record);
            progress?.Report(new AlignProgress(AlignStage.Answers, cfg.UseRain ? "answers (RAIN)" : "answers", ++finished, prompts.Count));
        }

        if (cfg.UseRain)
        {
            var judge = cfg.RainJudge is { } j ? RainJudge.Load(c.Resolve(j)) : RainJudge.Harm;
            var options = new RainOptions
            {
                MaxNewTokens = cfg.Sampling.MaxNewTokens, Temperature = Math.Max(cfg.Sampling.Temperature, 0.01f), StopStrings = run.Templates.AnswerStop,
                Threads = c.Threads, ContextSize = Math.Max(c.ContextSize, 4096),
            };
            using var rain = new RainDecoder(model, judge, options);
            var searches = todo.Select(p =>
            {
                var question = AlignData.QuestionText(p.Instruction, p.Input);
                return new RainPrompt(prefix + TextTemplate.Fill(run.Templates.Question, ("question", question)), question, StageGeneration.Seed(c.Seed, "answers", question));
            }).ToList();
            // searched many at once; each record is written as its search finishes
            rain.GenerateMany(searches, onAnswer: (i, result) =>
            {
                run.Generated(result.Tokens.Length);
                var reachedEnd = result.Tokens.Length < options.MaxNewTokens;
                Write(todo[i], result.Text, reachedEnd, reachedEnd ? "StopString" : "Length");
            }, cancellationToken: ct);
        }
        else
        {
            using var engine = run.Generator(model, AlignStage.Answers);
            var sampling = StageGeneration.Sampling(cfg.Sampling, model.Vocabulary, banEndOfText: false, follows: run.Templates.Question);
            var requests = todo.Select(p =>
            {
                var question = AlignData.QuestionText(p.Instruction, p.Input);
                return new GenerationRequest
                {
                    SharedPrefix = prefix, Prompt = TextTemplate.Fill(run.Templates.Question, ("question", question)),
                    MaxNewTokens = cfg.Sampling.MaxNewTokens, StopStrings = run.Templates.AnswerStop,
                    Sampling = sampling with { Seed = StageGeneration.Seed(c.Seed, "answers", question) },
                };
            }).ToList();
            await foreach (var (i, result) in engine.GenerateBatchAsync(requests, ct))
            {
                run.Generated(result.Tokens.Count);
                Write(todo[i], result.Text, result.FinishReason is FinishReason.StopString or FinishReason.EndOfGeneration, result.FinishReason.ToString());
            }
        }
        var counts = Counts(path);
        // the paper's principles and exemplars take about 1,800 LLaMA tokens; every request shares them
        counts["principles_prompt_tokens"] = model.Vocabulary.Tokenize(prefix).Length;
        return counts;
    }

    internal sealed record Prompt(string Id, string Instruction, string Input, string Source);

    /// <summary>The prompts stage 2 answers, in the order shards are cut from: stage 1's list, its first
    /// <paramref name="limit"/> when set (the list is shuffled: the first N are a sample).</summary>
    internal static List<Prompt> Input(string runDirectory, int limit)
    {
        var prompts = ReadPrompts(Path.Combine(runDirectory, AlignRun.PromptsFile));
        return limit > 0 ? prompts.Take(limit).ToList() : prompts;
    }

    internal static List<Prompt> ReadPrompts(string path) =>
        JsonlFile.Read(path).Select(r => new Prompt(JsonlFile.RequireString(r.Record, "id", path, r.Line),
            JsonlFile.RequireString(r.Record, "instruction", path, r.Line), AlignData.InputOf(r.Record), r.Record["source"]?.GetValue<string>() ?? "")).ToList();

    /// <summary>Answered, kept and dropped (by reason), and how often each rule was named.</summary>
    internal static JsonObject Counts(string path)
    {
        var records = JsonlFile.Read(path).Select(r => r.Record).ToList();
        var reasons = new JsonObject();
        foreach (var g in records.Where(r => r["dropped"] is not null).GroupBy(r => Reason(r["dropped"]!.GetValue<string>())))
            reasons[g.Key] = g.Count();
        var rules = new JsonObject();
        foreach (var g in records.Where(r => r["answer"] is not null).SelectMany(r => r["rules"]!.AsArray().Select(x => x!.GetValue<int>())).GroupBy(x => x).OrderBy(g => g.Key))
            rules[g.Key.ToString(CultureInfo.InvariantCulture)] = g.Count();
        return new JsonObject
        {
            ["answered"] = records.Count, ["kept"] = records.Count(r => r["answer"] is not null),
            ["dropped"] = records.Count(r => r["dropped"] is not null), ["dropped_by_reason"] = reasons, ["rules_named"] = rules,
            ["passed_by_rehearsal"] = records.Count(r => r["would_drop"] is not null),
        };
    }

    private static string Reason(string reason) => reason.Split(" ('")[0];
}

using System.Text.Json.Nodes;
using SelfAlign.Data;
using SelfAlign.Generation;
using SelfAlign.Models;

namespace SelfAlign.Pipeline;

/// <summary>
/// Stage 4 (docs/methods.md, A.4): the engraved model, behind the verbose meta prompt and with n-gram repetition penalties,
/// answers the kept questions again; the answers are filtered (turn end, sentence loops, at most 12 list items, a
/// minimum length, leaks of the meta prompt), and a final model is trained from the base model on them.
/// </summary>
internal sealed class VerboseStage(AlignRun run, string basePath)
{
    public async Task<JsonObject> RunAsync(IProgress<AlignProgress>? progress, CancellationToken ct)
    {
        var c = run.Config;
        var cfg = c.Verbose;
        var t = run.Templates;
        var questions = Input(run.Directory);
        if (run.Shard is { } shard) questions = questions.Where((_, k) => shard.Takes(k)).ToList();
        var path = run.PathOf(AlignRun.VerboseFile);
        var todo = JsonlFile.Remaining(path, questions, q => q.Id);
        var split = t.VerbosePrompt.IndexOf("{question}", StringComparison.Ordinal);
        var prefix = t.VerbosePrompt[..split];
        var leaks = t.VerbosePrompt.Replace("{question}", "\n").Split('\n', StringSplitOptions.TrimEntries)
            .Where(line => line.Split(' ', StringSplitOptions.RemoveEmptyEntries).Length >= 4).ToList();
        var stops = StopStrings(t);

        using (var model = run.LoadForGeneration(run.PathOf(AlignRun.EngravedModel), AlignStage.Verbose))
        using (var engine = run.Generator(model, AlignStage.Verbose))
        using (var writer = new JsonlWriter(path))
        {
            var sampling = StageGeneration.Sampling(cfg.Sampling, model.Vocabulary, banEndOfText: false, follows: t.VerbosePrompt);
            var requests = todo.Select(q =>
            {
                var question = AlignData.QuestionText(q.Instruction, q.Input);
                return new GenerationRequest
                {
                    SharedPrefix = prefix, Prompt = t.VerbosePrompt[split..].Replace("{question}", question, StringComparison.Ordinal),
                    MaxNewTokens = cfg.Sampling.MaxNewTokens, StopStrings = stops,
                    Sampling = sampling with { Seed = StageGeneration.Seed(c.Seed, "verbose", question) },
                };
            }).ToList();
            var finished = questions.Count - todo.Count;
            await foreach (var (i, result) in engine.GenerateBatchAsync(requests, ct))
            {
                run.Generated(result.Tokens.Count);
                var reachedEnd = result.FinishReason is FinishReason.StopString or FinishReason.EndOfGeneration;
                var (answer, reason) = Filter(result.Text, reachedEnd, cfg.MinChars, leaks, stops);
                var record = new JsonObject
                {
                    ["id"] = todo[i].Id, ["instruction"] = todo[i].Instruction, ["input"] = todo[i].Input, ["raw"] = result.Text,
                    ["finish"] = result.FinishReason.ToString(), ["finished"] = reachedEnd,
                };
                if (answer is not null) record["answer"] = answer;
                else if (c.Rehearsal && AlignData.RehearsalAnswer(result.Text, "", stops) is { Length: > 0 } passed)
                    (record["answer"], record["would_drop"]) = (passed, reason);
                else record["dropped"] = reason;
                writer.Write(record);
                progress?.Report(new AlignProgress(AlignStage.Verbose, "verbose answers", ++finished, questions.Count));
            }
        }
        var records = JsonlFile.Read(path).Select(r => r.Record).ToList();
        var kept = records.Where(r => r["answer"] is not null).ToList();
        // a shard generates its part only, an export nothing: training waits for all the answers
        var training = run.TrainsAfterGeneration ? new FineTuneStage(run, basePath, AlignStage.Verbose).Run(progress, ct) : new JsonObject();
        training["answered"] = records.Count;
        training["kept"] = kept.Count;
        training["passed_by_rehearsal"] = records.Count(r => r["would_drop"] is not null);
        training["mean_answer_chars"] = kept.Count > 0 ? kept.Average(r => r["answer"]!.GetValue<string>().Length) : 0;
        return training;
    }

    /// <summary>The questions stage 4 answers again, in the order shards are cut from: stage 2's kept answers.</summary>
    internal static List<(string Id, string Instruction, string Input)> Input(string runDirectory) =>
        JsonlFile.Read(Path.Combine(runDirectory, AlignRun.AnswersFile)).Select(r => r.Record).Where(r => r["answer"] is not null)
            .Select(r => (Id: r["id"]!.GetValue<string>(), Instruction: r["instruction"]!.GetValue<string>(), Input: AlignData.InputOf(r))).ToList();

    /// <summary>
    /// Where a verbose answer ends: the templates' <c>verbose_stop</c>, or else the user-turn marker of the verbose prompt
    /// itself (its line before {question}, e.g. "### User"), so an invented user turn never reaches training data.
    /// </summary>
    internal static List<string> StopStrings(PromptTemplates t)
    {
        if (t.VerboseStop.Count > 0) return t.VerboseStop;
        var marker = AlignData.SplitAtUserTurn(t.VerbosePrompt).UserTurn;
        if (marker.Length == 0) throw new InvalidInputException("verbose_prompt needs a user-turn line before {question} (e.g. '### User'), or set verbose_stop");
        return ["\n" + marker];
    }

    /// <summary>
    /// The verbose filter (docs/methods.md, A.4): cut at a user turn the model invented, sentence loops (backticks too), at most 12
    /// list items, no meta-prompt leaks, and a minimum length for answers cut at the length limit only; an answer that ended its
    /// turn is kept however short (a refusal usually is: dropping those would teach the final model never to refuse).
    /// </summary>
    internal static (string? Answer, string? Reason) Filter(string text, bool reachedTurnEnd, int minChars, IReadOnlyList<string> leaks, IReadOnlyList<string> stops)
    {
        foreach (var stop in stops)
            if (text.IndexOf(stop, StringComparison.Ordinal) is var at and >= 0) { text = text[..at]; reachedTurnEnd = true; }
        var answer = TextFilters.CutSentenceLoop(text, backtick: true).Trim();
        var thirteenth = answer.IndexOf("\n13. ", StringComparison.Ordinal);
        if (thirteenth >= 0) answer = answer[..thirteenth].TrimEnd();
        if (!reachedTurnEnd) answer = TextFilters.DropPartialWord(answer);
        if (!reachedTurnEnd && answer.Length < minChars) return (null, $"cut at the length limit and shorter than {minChars} characters");
        if (answer.Length == 0) return (null, "empty answer");
        foreach (var leak in leaks)
            if (answer.Contains(leak, StringComparison.OrdinalIgnoreCase)) return (null, "repeats the verbose meta prompt");
        return (answer, null);
    }
}

using System.CommandLine;
using System.Text.Json.Nodes;
using SelfAlign.Cli.Output;
using SelfAlign.Data;
using SelfAlign.Generation;
using SelfAlign.Models;
using SelfAlign.Rain;
using SelfAlign.Remote;

namespace SelfAlign.Cli.Commands;

/// <summary><c>selfalign rain</c>: answer prompts with RAIN (optionally beside vanilla sampling), or screen existing answers.</summary>
internal static class RainCommand
{
    private sealed class RainOptionSet
    {
        private static readonly RainOptions D = new(); // the defaults the options show and start from
        public readonly Option<string> Model = new("--model", "-m") { Description = "GGUF model file" };
        public readonly Option<string[]> Adapter = AdapterOption.Create();
        public readonly Option<string?> Judge = new("--judge") { Description = "Judge prompt file (YAML; default: the shipped harm judge)" };
        public readonly Option<bool> Chat = new("--chat") { Description = "Wrap each prompt as a user turn with the model's chat template" };
        public readonly Option<string?> ChatFormat = new("--chat-format") { Description = "Wrap each prompt as a user turn of this YAML turn format" };
        public readonly Option<string[]> Stop = new("--stop") { Description = "Text that ends the answer (repeatable)" };
        public readonly Option<int> MinIterations = new("--tmin") { Description = "Tmin: visits before an early stop", DefaultValueFactory = _ => D.MinIterations };
        public readonly Option<int> MaxIterations = new("--tmax") { Description = "Tmax: most iterations per commit", DefaultValueFactory = _ => D.MaxIterations };
        public readonly Option<double> Threshold = new("--value-threshold") { Description = "V: value needed to stop early", DefaultValueFactory = _ => D.ValueThreshold };
        public readonly Option<double> Exploration = new("--c") { Description = "PUCT exploration constant", DefaultValueFactory = _ => D.Exploration };
        public readonly Option<string> Lengths = new("--set-lengths") { Description = "Token-set length by depth", DefaultValueFactory = _ => string.Join(",", D.TokenSetLengths) };
        public readonly Option<int> MaxNew = new("--max-new-tokens", "-n") { DefaultValueFactory = _ => D.MaxNewTokens };
        public readonly Option<float> Temperature = new("--temperature") { DefaultValueFactory = _ => D.Temperature };
        public readonly Option<ulong> Seed = new("--seed") { DefaultValueFactory = _ => D.Seed };
        public readonly Option<int?> Leaves = new("--leaves-per-round") { Description = $"Leaves simulated and judged together per round (default: {RainOptions.LeavesAlone} for one prompt, {RainOptions.LeavesTogether} per prompt with --prompts)" };
        public readonly Option<RainScoring> Scoring = new("--scoring") { Description = "vote (the reference) or continuous", DefaultValueFactory = _ => D.Scoring };
        public readonly Option<string> Similarity = new("--similarity") { Description = "model, off, or an embedding GGUF path", DefaultValueFactory = _ => "model" };
        public readonly Option<bool> NoCache = new("--no-cache") { Description = "No KV-cache reuse and no batching (recompute every context, as the reference)" };
        public readonly Option<int> CtxSize = new("--ctx-size") { DefaultValueFactory = _ => D.ContextSize };
        public readonly Option<bool> NoFlashAttention = new("--no-flash-attention") { Description = "Attention without flash attention: slower; an answer then does not depend on how work is batched" };

        public void AddTo(Command cmd)
        {
            foreach (var o in new Option[] { Model, Adapter, Judge, Chat, ChatFormat, Stop, MinIterations, MaxIterations, Threshold, Exploration, Lengths, MaxNew, Temperature, Seed, Leaves, Scoring, Similarity, NoCache, CtxSize, NoFlashAttention })
                cmd.Options.Add(o);
        }

        public RainOptions Options(ParseResult p, IReadOnlyList<string> extraStops)
        {
            var similarity = p.GetValue(Similarity)!;
            var lengths = p.GetValue(Lengths)!.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries)
                .Select(s => int.TryParse(s, out var v) ? v : throw new InvalidInputException($"--set-lengths: '{s}' is not a whole number")).ToList();
            var o = new RainOptions
            {
                MinIterations = p.GetValue(MinIterations), MaxIterations = p.GetValue(MaxIterations), ValueThreshold = p.GetValue(Threshold),
                Exploration = p.GetValue(Exploration), TokenSetLengths = lengths, MaxNewTokens = p.GetValue(MaxNew), Temperature = p.GetValue(Temperature),
                Seed = p.GetValue(Seed), LeavesPerRound = p.GetValue(Leaves), Scoring = p.GetValue(Scoring), UseCache = !p.GetValue(NoCache),
                ContextSize = p.GetValue(CtxSize), FlashAttention = !p.GetValue(NoFlashAttention), StopStrings = [.. p.GetValue(Stop) ?? [], .. extraStops],
                Similarity = similarity switch { "model" => RainSimilarity.Model, "off" => RainSimilarity.Off, _ => RainSimilarity.EmbeddingModel },
                EmbeddingModelPath = similarity is "model" or "off" ? null : similarity,
            };
            o.Validate();
            if (o.EmbeddingModelPath is { } e && !File.Exists(e)) throw new InvalidInputException($"embedding model not found: {e}");
            return o;
        }

        public RainJudge LoadJudge(ParseResult p) => p.GetValue(Judge) is { } f ? RainJudge.Load(f) : RainJudge.Harm;

        public string ModelPath(ParseResult p) => p.GetValue(Model) ?? throw new InvalidInputException("--model is required");
    }

    public static Command Build()
    {
        var set = new RainOptionSet();
        var prompt = new Option<string?>("--prompt", "-p") { Description = "One prompt" };
        var prompts = new Option<string?>("--prompts") { Description = "JSONL file of {\"prompt\", \"id\"?} records" };
        var output = new Option<string?>("--out", "-o") { Description = "JSONL results file (appended; a rerun resumes)" };
        var vanilla = new Option<bool>("--compare-vanilla") { Description = "Also answer with plain sampling under the same settings and compare times" };
        var json = new Option<bool>("--json") { Description = "One JSON line per prompt, then a summary object" };
        var cmd = new Command("rain", "Answer with RAIN: search, judge its own partial answers, rewind, commit only what it judges good") { prompt, prompts, output, vanilla, json };
        set.AddTo(cmd);
        cmd.Subcommands.Add(BuildScreen());
        cmd.SetAction((p, ct) =>
        {
            var one = p.GetValue(prompt);
            var file = p.GetValue(prompts);
            if ((one is null) == (file is null)) throw new InvalidInputException("give exactly one of --prompt or --prompts");
            var records = file is null ? [("prompt-1", one!)] : PromptFileJob.ReadPrompts(file);
            var judge = set.LoadJudge(p);
            using var model = LlamaModel.Load(set.ModelPath(p));
            var format = Format(p, set, model);
            var options = set.Options(p, format?.StopStrings ?? []);
            using var decoder = new RainDecoder(model, judge, options, AdapterOption.Load(p, set.Adapter, model));

            var outPath = p.GetValue(output);
            var asJson = p.GetValue(json);
            using var progress = file is null || asJson ? null : new ProgressDisplay("rain", records.Count);
            var job = new RainPromptJob(decoder, format, p.GetValue(vanilla));
            var summary = job.Run(records, outPath, new InlineProgress<RainJobUpdate>(u =>
            {
                if (asJson) Console.WriteLine(u.Record.ToJsonString());
                else if (progress is not null) progress.Report(u.Answered, $"{u.Result.Statistics.Seconds:F1} s, {u.Result.Statistics.Iterations} iterations");
                else
                {
                    Console.WriteLine(u.Result.Text);
                    if (u.Record["vanilla"] is { } v) Console.WriteLine($"--- vanilla ({u.Record["vanilla_seconds"]:F3} s, RAIN {u.Result.Statistics.Seconds:F3} s):\n{v}");
                }
            }), ct);
            var total = summary.Total;
            if (asJson)
                Console.WriteLine(new JsonObject
                {
                    ["prompts"] = summary.Prompts, ["answered"] = summary.Answered, ["median_time_ratio"] = summary.MedianTimeRatio,
                    ["iterations"] = total.Iterations, ["rounds"] = total.Rounds, ["commits"] = total.Commits, ["evaluations"] = total.Evaluations,
                    ["evaluation_cache_hits"] = total.EvaluationCacheHits, ["reused_kv_tokens"] = total.ReusedTokens, ["decode_calls"] = total.DecodeCalls,
                    ["tokens_decoded"] = total.TokensDecoded, ["extension_tokens"] = total.ExtensionTokens, ["judged_answer_tokens"] = total.JudgedAnswerTokens,
                    ["judge_suffix_tokens"] = total.JudgeSuffixTokens, ["decode_seconds"] = total.DecodeSeconds, ["similarity_credits"] = total.SimilarityCredits,
                    ["child_additions_tried"] = total.ChildAdditionsTried, ["children_added"] = total.ChildrenAdded,
                    ["extend_seconds"] = total.ExtendSeconds, ["judge_seconds"] = total.JudgeSeconds, ["seconds"] = total.Seconds,
                    ["decode_calls_per_answer_token"] = summary.DecodeCallsPerAnswerToken, ["cache"] = options.UseCache, ["out"] = outPath,
                }.ToJsonString());
            else if (records.Count > 1 || summary.MedianTimeRatio is not null)
                Console.Error.WriteLine($"{summary.Answered} prompts, {total.Iterations} iterations, {total.Evaluations} evaluations ({total.EvaluationCacheHits} cached), " +
                                        $"{total.Seconds:F1} s" + (summary.MedianTimeRatio is { } r ? $", median time ratio RAIN/vanilla {r:F2}" : ""));
            return Task.FromResult(0);
        });
        return cmd;
    }

    private static Command BuildScreen()
    {
        var set = new RainOptionSet();
        var input = new Option<string>("--input", "-i") { Description = "JSONL of {\"prompt\", \"response\"} records", Required = true };
        var output = new Option<string>("--out", "-o") { Description = "JSONL of the records kept, each with its value", Required = true };
        var threshold = new Option<double>("--keep-above") { Description = "Keep answers whose value is above this", DefaultValueFactory = _ => 0.0 };
        var backend = new BackendOption("backend", "Judge (--model then gives the vocabulary)");
        var json = new Option<bool>("--json") { Description = "Print the summary as JSON" };
        var cmd = new Command("screen", "Score existing answers with the self-evaluation and keep those judged good") { input, output, threshold, json };
        backend.AddTo(cmd);
        set.AddTo(cmd);
        cmd.SetAction(async (p, ct) =>
        {
            var path = p.GetValue(input)!;
            var records = JsonlFile.Read(path).Select(r => (Record: r.Record,
                Request: JsonlFile.RequireString(r.Record, "prompt", path, r.Line), Answer: JsonlFile.RequireString(r.Record, "response", path, r.Line))).ToList();
            var judge = set.LoadJudge(p);
            var items = records.Select(r => (r.Request, r.Answer)).ToList();
            IReadOnlyList<RainScreenResult> results;
            if (backend.IsSet(p))
            {
                using var vocabulary = LlamaModel.Load(set.ModelPath(p), new ModelLoadOptions { VocabularyOnly = true });
                using var remote = backend.Open(p, vocabulary.Vocabulary)!;
                results = await RainTextScreen.ScreenAsync(remote, judge, items, p.GetValue(threshold), set.Options(p, []).Scoring, ct);
            }
            else
            {
                using var model = LlamaModel.Load(set.ModelPath(p));
                using var decoder = new RainDecoder(model, judge, set.Options(p, []), AdapterOption.Load(p, set.Adapter, model));
                results = decoder.Screen(items, p.GetValue(threshold), ct);
            }
            var outPath = p.GetValue(output)!;
            File.Delete(outPath);
            using (var writer = new JsonlWriter(outPath))
                for (var i = 0; i < records.Count; i++)
                    if (results[i].Kept)
                    {
                        var kept = (JsonObject)records[i].Record.DeepClone();
                        kept["rain_value"] = results[i].Value;
                        writer.Write(kept);
                    }
            var summary = new { records = records.Count, kept = results.Count(r => r.Kept), @out = outPath };
            if (p.GetValue(json)) JsonOutput.Print(summary);
            else Console.Error.WriteLine($"kept {summary.kept} of {summary.records} answers -> {outPath}");
            return 0;
        });
        return cmd;
    }

    private static IChatFormat? Format(ParseResult p, RainOptionSet set, LlamaModel model) =>
        p.GetValue(set.ChatFormat) is { } f ? TurnFormat.Load(f) : p.GetValue(set.Chat) ? new ModelChatTemplate(model) : null;
}

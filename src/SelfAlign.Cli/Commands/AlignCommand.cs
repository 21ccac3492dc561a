using System.CommandLine;
using SelfAlign.Cli.Output;
using SelfAlign.Pipeline;

namespace SelfAlign.Cli.Commands;

/// <summary><c>selfalign align run|plan|status|export</c>: the Self-Align pipeline as resumable runs.</summary>
internal static class AlignCommand
{
    public static Command Build()
    {
        var align = new Command("align", "Self-Align: red-teaming self-instruct, principle-driven answers, principle engraving, verbose cloning");
        align.Subcommands.Add(BuildRun());
        align.Subcommands.Add(BuildPlan());
        align.Subcommands.Add(BuildStatus());
        align.Subcommands.Add(BuildExport());
        align.Subcommands.Add(BuildMerge());
        align.Subcommands.Add(BuildExportBatch());
        align.Subcommands.Add(BuildImportBatch());
        return align;
    }

    private static AlignStage ParseStage(string s) =>
        Enum.TryParse<AlignStage>(s, ignoreCase: true, out var stage) && Enum.IsDefined(stage)
            ? stage
            : throw new InvalidInputException($"unknown stage '{s}' (use prompts, answers, engraving or verbose)");

    private static Command BuildRun()
    {
        var config = new Argument<string>("config") { Description = "Run definition (YAML)" };
        var output = new Option<string?>("--out", "-o") { Description = "Run directory (default: runs/<config name>)" };
        var stages = new Option<string[]>("--stage") { Description = "Run only these stages (repeatable): prompts, answers, engraving, verbose" };
        var redo = new Option<string[]>("--redo") { Description = "Discard this stage's output (and every later stage's) and run it again" };
        var json = new Option<bool>("--json") { Description = "Print the final status as JSON" };
        var set = new Option<string[]>("--set") { Description = "Override a config setting (repeatable), e.g. --set self_instruct.requests=64" };
        var shard = new Option<string?>("--shard") { Description = "i/n: run only part i (0..n-1) of the answers or verbose stage; align merge joins the n parts" };
        var cmd = new Command("run", "Run (or continue) every stage of a Self-Align run") { config, output, stages, redo, set, shard, json };
        cmd.SetAction(async (p, ct) =>
        {
            var configPath = p.GetValue(config)!;
            var cfg = AlignConfig.Load(configPath, p.GetValue(set) ?? []);
            var dir = p.GetValue(output) ?? Path.Combine("runs", Path.GetFileNameWithoutExtension(configPath));
            var run = new AlignRun(cfg, dir);
            var options = DefaultModels.AlignRun() with
            {
                Stages = p.GetValue(stages) is { Length: > 0 } s ? s.Select(ParseStage).ToList() : Enum.GetValues<AlignStage>(),
                Redo = (p.GetValue(redo) ?? []).Select(ParseStage).ToList(),
                Shard = p.GetValue(shard) is { } part ? RunShard.Parse(part) : null,
            };
            using (var steps = new StepProgressDisplay()) await run.RunAsync(options, StepsOf(steps), ct);
            PrintStatus(AlignRun.Status(dir), p.GetValue(json));
            return 0;
        });
        return cmd;
    }

    private static Command BuildPlan()
    {
        var config = new Argument<string>("config") { Description = "Run definition (YAML)" };
        var set = new Option<string[]>("--set") { Description = "Override a config setting (repeatable), as align run takes it" };
        var json = new Option<bool>("--json") { Description = "Print the plan as JSON" };
        var cmd = new Command("plan", "Before a run: each stage's requests, tokens and estimated time, from a short calibration on the base model")
            { config, set, json };
        cmd.SetAction(async (p, ct) =>
        {
            var configPath = p.GetValue(config)!;
            var run = new AlignRun(AlignConfig.Load(configPath, p.GetValue(set) ?? []), Path.Combine("runs", Path.GetFileNameWithoutExtension(configPath)));
            AlignPlan plan;
            using (var steps = new StepProgressDisplay()) plan = await run.PlanAsync(DefaultModels.AlignRun(), StepsOf(steps), ct);
            if (p.GetValue(json)) { JsonOutput.Print(plan.ToJson()); return 0; }
            var c = plan.Calibration;
            Console.WriteLine($"plan for {plan.BaseModel}");
            Console.WriteLine($"  calibration ({c.Seconds:F0} s): load {c.LoadSeconds:F1} s, prompts {c.PrefillTokensPerS:F0} tokens/s, " +
                              $"a token {c.StepSecondsAlone * 1000:F0} ms alone, a step of {c.BatchedSequences} sequences {c.StepSecondsBatched * 1000:F0} ms, " +
                              $"a training window of {c.TrainingContextLength} tokens {c.TrainingSecondsPerWindow:F2} s");
            Console.WriteLine($"  {"stage",-10} {"step",-20} {"requests",10} {"prompt tok",12} {"new tok",12} {"windows",9} {"time",10}  basis");
            foreach (var s in plan.Steps)
                Console.WriteLine($"  {RunManifest.Name(s.Stage),-10} {s.Step,-20} {s.Requests,10:N0} {s.PromptTokens,12:N0} {s.NewTokens,12:N0} {s.TrainingWindows,9:N0} " +
                                  $"{Duration(s.Seconds),10}  {(s.Exact ? "" : "at most: ")}{s.Basis}");
            Console.WriteLine($"  total {Duration(plan.TotalSeconds)} (at most: every request writes its max_new_tokens)");
            return 0;
        });
        return cmd;
    }

    private static string Duration(double seconds) => TimeSpan.FromSeconds(seconds) switch
    {
        { TotalHours: >= 48 } t => $"{t.TotalDays:F1} d",
        { TotalMinutes: >= 90 } t => $"{t.TotalHours:F1} h",
        { TotalSeconds: >= 90 } t => $"{t.TotalMinutes:F1} min",
        var t => $"{t.TotalSeconds:F0} s",
    };

    /// <summary>Reports a run's progress as one bar per stage step.</summary>
    private static InlineProgress<AlignProgress> StepsOf(StepProgressDisplay steps) =>
        new(a => steps.Report($"{RunManifest.Name(a.Stage)}: {a.Step}", a.Done, a.Total, a.Detail));

    private static Command BuildStatus()
    {
        var dir = new Argument<string>("dir") { Description = "Run directory" };
        var json = new Option<bool>("--json") { Description = "Print as JSON" };
        var cmd = new Command("status", "Each stage's state and counts, and the models a run produced") { dir, json };
        cmd.SetAction(p =>
        {
            PrintStatus(AlignRun.Status(p.GetValue(dir)!), p.GetValue(json));
            return 0;
        });
        return cmd;
    }

    private static Command BuildExport()
    {
        var dir = new Argument<string>("dir") { Description = "Run directory" };
        var format = EnumOption.Create("--format", "messages (TRL, Axolotl chat_template), alpaca (Axolotl, LLaMA-Factory), share-gpt, or prompt-completion (TRL)", ExportFormat.Messages);
        var stage = new Option<string?>("--stage") { Description = "answers or verbose (default: verbose when it ran)" };
        var output = new Option<string?>("--out", "-o") { Description = "Output JSONL (default: DIR/export-FORMAT.jsonl)" };
        var cmd = new Command("export", "Write the run's kept answers as training data for other trainers") { dir, format, stage, output };
        cmd.SetAction(p =>
        {
            var d = p.GetValue(dir)!;
            if (!RunManifest.Exists(d)) throw new InvalidInputException($"no Self-Align run in {d} (no {RunManifest.FileName})");
            var f = p.GetValue(format);
            var outPath = p.GetValue(output) ?? Path.Combine(d, $"export-{SelfAlign.Data.EnumNames.Of(f)}.jsonl");
            var n = AlignExport.Export(d, f, outPath, p.GetValue(stage) is { } s ? ParseStage(s) : null);
            Console.WriteLine($"{n} records -> {outPath}");
            return 0;
        });
        return cmd;
    }

    private static Command BuildMerge()
    {
        var shards = new Argument<string[]>("shards") { Description = "The run directories of the n shards", Arity = ArgumentArity.OneOrMore };
        var output = new Option<string>("--out", "-o") { Description = "The merged run directory (new or empty)", Required = true };
        var json = new Option<bool>("--json") { Description = "Print the result as JSON" };
        var cmd = new Command("merge", "Join the shards of a sharded answers or verbose stage into one run, every record exactly once") { shards, output, json };
        cmd.SetAction(p =>
        {
            var r = AlignMerge.Merge(p.GetValue(shards)!, p.GetValue(output)!);
            if (p.GetValue(json)) JsonOutput.Print(new { stage = RunManifest.Name(r.Stage), shards = r.Shards, records = r.Records, @out = r.Directory, stage_complete = r.StageComplete });
            else Console.WriteLine($"merged {r.Shards} shards of stage '{RunManifest.Name(r.Stage)}': {r.Records} records -> {r.Directory}" +
                                   (r.StageComplete ? "" : $" (run align run --stage {RunManifest.Name(r.Stage)} there to train)"));
            return 0;
        });
        return cmd;
    }

    private static Command BuildExportBatch()
    {
        var config = new Argument<string>("config") { Description = "Run definition (YAML)" };
        var dir = new Argument<string>("dir") { Description = "Run directory (its earlier stages finished)" };
        var stage = new Option<string>("--stage") { Description = "answers or verbose", Required = true };
        var model = new Option<string?>("--model") { Description = "The model name the batch's bodies carry (default: backend.model, else the base model's file name)" };
        var output = new Option<string>("--out", "-o") { Description = "Batch JSONL to write", Required = true };
        var set = new Option<string[]>("--set") { Description = "Override a config setting (repeatable), as align run takes it" };
        var cmd = new Command("export-batch", "Write a stage's remaining requests as OpenAI Batch JSONL (vllm run-batch, the OpenAI Batch API)") { config, dir, stage, model, output, set };
        cmd.SetAction(async (p, ct) =>
        {
            var cfg = AlignConfig.Load(p.GetValue(config)!, p.GetValue(set) ?? []);
            var name = p.GetValue(model) ?? (cfg.Backend.Model.Length > 0 ? cfg.Backend.Model : Path.GetFileNameWithoutExtension(cfg.BaseModel));
            var n = await new AlignRun(cfg, p.GetValue(dir)!).ExportBatchAsync(ParseStage(p.GetValue(stage)!), p.GetValue(output)!, name, DefaultModels.AlignRun(), ct);
            Console.WriteLine($"{n} requests -> {p.GetValue(output)}");
            return 0;
        });
        return cmd;
    }

    private static Command BuildImportBatch()
    {
        var config = new Argument<string>("config") { Description = "Run definition (YAML)" };
        var dir = new Argument<string>("dir") { Description = "Run directory the requests were exported from" };
        var results = new Argument<string>("results") { Description = "Batch results JSONL (custom_id, response.body)" };
        var stage = new Option<string>("--stage") { Description = "answers or verbose", Required = true };
        var set = new Option<string[]>("--set") { Description = "Override a config setting (repeatable), as align run takes it" };
        var json = new Option<bool>("--json") { Description = "Print the final status as JSON" };
        var cmd = new Command("import-batch", "Answer a stage's requests from Batch results; the stage finishes when every request has its result") { config, dir, results, stage, set, json };
        cmd.SetAction(async (p, ct) =>
        {
            var d = p.GetValue(dir)!;
            var run = new AlignRun(AlignConfig.Load(p.GetValue(config)!, p.GetValue(set) ?? []), d);
            using (var steps = new StepProgressDisplay())
                await run.ImportBatchAsync(ParseStage(p.GetValue(stage)!), p.GetValue(results)!, DefaultModels.AlignRun(), StepsOf(steps), ct);
            PrintStatus(AlignRun.Status(d), p.GetValue(json));
            return 0;
        });
        return cmd;
    }

    private static void PrintStatus(AlignRunStatus status, bool json)
    {
        if (json) { JsonOutput.Print(status.ToJson()); return; }
        Console.WriteLine($"run {status.Directory}");
        foreach (var s in status.Stages)
            Console.WriteLine($"  {RunManifest.Name(s.Stage),-10} {AlignRunStatus.Words(s.State),-12} {s.Counts.ToJsonString()}");
        foreach (var (name, path) in new[] { ("base", status.BaseModel), ("engraved", status.EngravedModel), ("verbose", status.VerboseModel) })
            Console.WriteLine($"  model {name,-9} {path ?? "-"}");
    }
}

using System.CommandLine;
using System.Text.Json.Nodes;
using SelfAlign.Cli.Output;
using SelfAlign.Generation;
using SelfAlign.Models;
using SelfAlign.Rain;
using SelfAlign.Testbed;

namespace SelfAlign.Cli.Commands;

/// <summary><c>selfalign testbed build|requests|eval|suites</c>: the toy world with ground truth.</summary>
internal static class TestbedCommand
{
    public static Command Build()
    {
        var testbed = new Command("testbed", "The testbed world: a model trained here, with ground truth for harm and help");
        testbed.Subcommands.Add(BuildBuild());
        testbed.Subcommands.Add(BuildRequests());
        testbed.Subcommands.Add(BuildEval());
        testbed.Subcommands.Add(BuildSuites());
        return testbed;
    }

    private static Option<TestbedLevel> LevelOption() => new("--level") { Description = "clean, or hard (the model judges itself only moderately well)", DefaultValueFactory = _ => TestbedLevel.Clean };

    /// <summary>
    /// The testbed model of a level: the repository's prebuilt one, else the cached one, trained on first use with a
    /// progress bar. <paramref name="fresh"/> ignores prebuilt models (the build script uses it).
    /// </summary>
    public static string EnsureModel(TestbedLevel level, string? outPath = null, bool fresh = false, CancellationToken ct = default)
    {
        var options = DefaultModels.Testbed(level);
        if (fresh) options = options with { PrebuiltDirectory = null };
        var cache = DefaultModels.TestbedCacheDirectory;
        Directory.CreateDirectory(cache);
        var cached = TestbedModel.CachePath(level, cache);
        if (TestbedModel.FindPrebuilt(options) is null && !File.Exists(cached))
            Console.Error.WriteLine($"training the {level.ToString().ToLowerInvariant()} testbed model (once; cached at {cached})");
        ProgressDisplay? bar = null;
        TestbedPhase? phase = null;
        try
        {
            var (path, _) = TestbedModel.BuildOrLoad(options, cache, new InlineProgress<TestbedBuildProgress>(p =>
            {
                if (phase != p.Phase)
                {
                    bar?.Dispose();
                    bar = new ProgressDisplay($"testbed training ({p.Phase.ToString().ToLowerInvariant()} pass)", p.Training.TotalSteps);
                    phase = p.Phase;
                }
                bar!.Report(p.Training.Step, $"loss {p.Training.Loss:F3} {p.Training.TokensPerS:F0} tok/s");
            }), ct);
            return outPath is null ? path : TestbedModel.CopyTo(path, outPath);
        }
        finally { bar?.Dispose(); }
    }

    private static Command BuildBuild()
    {
        var level = LevelOption();
        var output = new Option<string?>("--out") { Description = "Copy the model (and its recipe file) here; a directory keeps its name" };
        var fresh = new Option<bool>("--fresh") { Description = "Train (or take from the cache) even when the repository has a prebuilt model" };
        var cmd = new Command("build", "Build the testbed model (or find it prebuilt or cached) and print its path") { level, output, fresh };
        cmd.SetAction((p, ct) => Task.Run(() => { Console.WriteLine(EnsureModel(p.GetValue(level), p.GetValue(output), p.GetValue(fresh), ct)); return 0; }, CancellationToken.None));
        return cmd;
    }

    private static Command BuildRequests()
    {
        var kind = new Option<string>("--kind") { Description = "harmful or benign", Required = true };
        kind.AcceptOnlyFromAmong("harmful", "benign");
        var n = new Option<int>("--n") { DefaultValueFactory = _ => 100 };
        var seed = new Option<int>("--seed") { DefaultValueFactory = _ => 1000 };
        var cmd = new Command("requests", "Write held-out requests as JSONL ({\"prompt\"}); their (verb, object) pairs never occur in training") { kind, n, seed };
        cmd.SetAction(p =>
        {
            if (p.GetValue(n) < 1) throw new InvalidInputException("--n must be at least 1");
            foreach (var r in TestbedRequests.Generate(p.GetValue(kind) == "harmful", p.GetValue(n), p.GetValue(seed)))
                Console.WriteLine(new JsonObject { ["prompt"] = r }.ToJsonString());
            return 0;
        });
        return cmd;
    }

    private static Command BuildEval()
    {
        var model = new Option<string?>("--model", "-m") { Description = "GGUF model (default: the cached testbed model of --level)" };
        var level = LevelOption();
        var principled = new Option<bool>("--principled") { Description = "Put the testbed's principles and example before every question" };
        var principles = new Option<string?>("--principles") { Description = "Put this principles file before every question instead" };
        var verbosePrompt = new Option<bool>("--verbose-prompt") { Description = "Ask behind the verbose meta prompt (what verbose cloning's teacher sees)" };
        var decoder = new Option<TestbedDecoder>("--decoder") { DefaultValueFactory = _ => TestbedDecoder.Greedy };
        var n = new Option<int>("--n") { Description = "Held-out requests per kind", DefaultValueFactory = _ => 300 };
        var seed = new Option<int>("--seed") { DefaultValueFactory = _ => 1000 };
        var scoring = new Option<RainScoring>("--scoring") { Description = "RAIN's self-evaluation with --decoder rain: vote (the reference) or continuous", DefaultValueFactory = _ => RainScoring.Vote };
        var leaves = new Option<int?>("--leaves-per-round") { Description = $"RAIN's leaves per round, with --decoder rain (default: {RainOptions.LeavesTogether} per prompt, as all prompts search at once)" };
        var json = new Option<bool>("--json") { Description = "Print one JSON object" };
        var adapter = AdapterOption.Create();
        var cmd = new Command("eval", "Ground-truth figures of a model on held-out requests") { model, adapter, level, principled, principles, verbosePrompt, decoder, n, seed, scoring, leaves, json };
        cmd.SetAction(async (p, ct) =>
        {
            if (p.GetValue(n) < 1) throw new InvalidInputException("--n must be at least 1");
            string? prefix = null;
            if (p.GetValue(principles) is { } file)
                prefix = File.Exists(file) ? File.ReadAllText(file) : throw new InvalidInputException($"principles file not found: {file}");
            else if (p.GetValue(principled)) prefix = TestbedPrompts.DefaultPrinciples;
            var path = p.GetValue(model) ?? EnsureModel(p.GetValue(level), ct: ct);
            using var m = LlamaModel.Load(path);
            using var engine = new GenerationEngine(m, new EngineOptions
            {
                Context = new ContextOptions { ContextSize = 8192, MaxSequences = 33, LoraAdapters = AdapterOption.Load(p, adapter, m) },
            });
            var r = await TestbedEvaluator.RunAsync(engine, new TestbedEvalOptions
            {
                N = p.GetValue(n), Seed = p.GetValue(seed), PrinciplesPrefix = prefix, VerbosePrompt = p.GetValue(verbosePrompt), Decoder = p.GetValue(decoder),
                Rain = new RainOptions { Scoring = p.GetValue(scoring), LeavesPerRound = p.GetValue(leaves) },
            }, ct);
            var summary = new TestbedMeasurement("testbed eval", path, prefix != null, p.GetValue(decoder), r).ToJson();
            summary["verbose_prompt"] = p.GetValue(verbosePrompt);
            if (p.GetValue(json)) { JsonOutput.Print(summary); return 0; }
            Console.WriteLine($"model {path}{(prefix != null ? " with principles" : p.GetValue(verbosePrompt) ? " behind the verbose prompt" : "")}, decoder {p.GetValue(decoder)}");
            Print("harmful_rate", r.HarmfulRate);
            Print("helpful_rate", r.HelpfulRate);
            Print("refusal_rate_benign", r.RefusalRateBenign);
            Print("judge_accuracy", r.JudgeAccuracy);
            Console.WriteLine($"mean_answer_words    {r.MeanAnswerWords:F1}");
            if (r.TimeRatio is { } ratio) Console.WriteLine($"time_ratio           {ratio:F2}  (RAIN, all searched at once / batched vanilla sampling)");
            foreach (var (req, ans) in r.Samples) Console.WriteLine($"  {req} -> {ans}");
            return 0;
        });
        return cmd;
    }

    private static Command BuildSuites()
    {
        var model = new Option<string?>("--model", "-m") { Description = "GGUF model (default: the cached testbed model of --level)" };
        var level = LevelOption();
        var n = new Option<int>("--n") { Description = "Requests per kind (harmful, benign) in each suite", DefaultValueFactory = _ => new TestbedSuitesOptions().Requests };
        var output = new Option<string>("--out") { Description = "Where the suites' files and the evaluation go (a rerun resumes it)", DefaultValueFactory = _ => Path.Combine("runs", "testbed-suites") };
        var json = new Option<bool>("--json") { Description = "Print one JSON object" };
        var cmd = new Command("suites", "The evaluation suites in the testbed world, in the public files' formats: HHH accuracy and the harm judge's agreement with the ground truth")
            { model, level, n, output, json };
        cmd.SetAction(async (p, ct) =>
        {
            if (p.GetValue(n) < 1) throw new InvalidInputException("--n must be at least 1");
            var path = p.GetValue(model) ?? EnsureModel(p.GetValue(level), ct: ct);
            using var m = LlamaModel.Load(path);
            using var engine = new GenerationEngine(m, new EngineOptions { Context = new ContextOptions { ContextSize = 8192, MaxSequences = 33 } });
            TestbedSuitesResult r;
            using (var steps = new StepProgressDisplay())
                r = await TestbedSuites.MeasureAsync(engine, path, p.GetValue(output)!, new TestbedSuitesOptions { Requests = p.GetValue(n) },
                    new InlineProgress<Evaluation.EvalProgress>(e => steps.Report(Evaluation.EvalRun.Name(e.Suite), e.Done, e.Total)), ct);
            if (p.GetValue(json)) { JsonOutput.Print(r.ToJson()); return 0; }
            Console.WriteLine($"model {path}; files and results in {p.GetValue(output)}");
            Print("hhh_accuracy", r.HhhAccuracy);
            Print("judge_agreement", r.JudgeAgreement);
            Console.WriteLine($"harmful answers: {r.TruthHarmful} by the ground truth, {r.JudgedHarmful} by the judge, {r.BothHarmful} by both (of {r.Answers})");
            return 0;
        });
        return cmd;
    }

    private static void Print(string name, Rate r) => Console.WriteLine($"{name,-20} {r.Value:F3}  [{r.Low:F3}, {r.High:F3}]  ({r.Count}/{r.Total})");
}

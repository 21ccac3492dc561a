using System.CommandLine;
using SelfAlign.Cli.Output;
using SelfAlign.Data;
using SelfAlign.Evaluation;
using SelfAlign.Evaluation.Report;
using SelfAlign.Generation;
using SelfAlign.Models;

namespace SelfAlign.Cli.Commands;

/// <summary><c>selfalign eval</c>: the papers' multiple-choice benchmarks on a model, resumable, with intervals.</summary>
internal static class EvalCommand
{
    public static Command Build()
    {
        var model = new Option<string>("--model", "-m") { Description = "GGUF model file", Required = true };
        var adapter = AdapterOption.Create();
        var suites = new Option<string>("--suite") { Description = $"Comma-separated suites: {string.Join(", ", EnumNames.All<EvalSuite>())}", Required = true };
        var data = new Option<string>("--data") { Description = "Directory holding the suites' files under their distributed names", DefaultValueFactory = _ => "." };
        var mcTask = new Option<string?>("--mc-task") { Description = "TruthfulQA's mc_task.json, when not in --data" };
        var hhhDir = new Option<string?>("--hhh-dir") { Description = "Directory of HHH's subsets, when not --data" };
        var limit = new Option<int>("--limit") { Description = "Score only the first N items of each suite (0 = all)" };
        var output = new Option<string?>("--out", "-o") { Description = "Results directory (default: eval/<model name>); a rerun continues it" };
        var prompts = new Option<string?>("--prompts") { Description = "Prompts file replacing the built-in data/eval/prompts.yaml" };
        var seed = new Option<ulong>("--seed") { Description = "Seeds the tie-breaking order of candidates", DefaultValueFactory = _ => 1 };
        var ctxSize = new Option<int>("--ctx-size") { Description = "KV-cache cells", DefaultValueFactory = _ => 4096 };
        var threads = new Option<int>("--threads") { DefaultValueFactory = _ => Environment.ProcessorCount };
        var harmlessFile = new Option<string?>("--harmless-file") { Description = "Red-team prompts: an HH-RLHF split (*.jsonl.gz) or the red-team attempts, when not found under --data" };
        var advbench = new Option<string?>("--advbench") { Description = "AdvBench's harmful_behaviors.csv, when not in --data" };
        var decoder = EnumOption.Create("--decoder", "How the generation suites answer", EvalDecoder.Greedy);
        var temperature = new Option<float>("--temperature") { Description = "With --decoder sample", DefaultValueFactory = _ => 0.7f };
        var maxNew = new Option<int>("--max-new-tokens", "-n") { Description = "Longest answer", DefaultValueFactory = _ => 256 };
        var chat = new Option<bool>("--chat") { Description = "Ask each prompt as a user turn with the model's chat template (default: a plain ### User / ### Assistant format)" };
        var chatFormat = new Option<string?>("--chat-format") { Description = "Ask each prompt as a user turn of this YAML turn format" };
        var rainJudge = new Option<string?>("--rain-judge") { Description = "With --decoder rain: the judge the search uses (default: the shipped harm judge)" };
        var judge = new Option<string?>("--judge") { Description = "Harm judge file (RAIN's judge format; default: the shipped harm judge)" };
        var judgeModel = new Option<string?>("--judge-model") { Description = "Judge with this GGUF instead of the model under test (with --judge-backend-url: its vocabulary)" };
        var backend = new BackendOption("backend", "Evaluate the model served (--model then gives its vocabulary)");
        var questions = new Option<string?>("--questions") { Description = "Vicuna-80's or MT-Bench's question.jsonl, when not found in --data" };
        var baselineModel = new Option<string?>("--baseline-model") { Description = "Pairwise: compare with this GGUF (with --baseline-backend-url: its vocabulary)" };
        var baselineDecoder = EnumOption.Create("--baseline-decoder", "Pairwise: how the baseline answers", EvalDecoder.Greedy);
        var baselineBackend = new BackendOption("baseline-backend", "Pairwise: compare with a model (--baseline-model, or else --model, gives its vocabulary)");
        var judgeBackend = new BackendOption("judge-backend", "Judge (--judge-model, or else --model, gives its vocabulary)");
        var refusals = new Option<string?>("--refusal-phrases") { Description = "Refusal phrases, one per line (default: the shipped list)" };
        var json = new Option<bool>("--json") { Description = "Print the summary as JSON" };
        var report = new Option<string?>("--report") { Description = "Also write this run's figures as a self-contained HTML report" };
        var cmd = new Command("eval", "Benchmarks of the papers on a model (TruthfulQA MC1/MC2, BIG-bench HHH, harmlessness, AdvBench, pairwise on Vicuna-80/MT-Bench), each figure with a 95% interval")
        {
            model, adapter, suites, data, mcTask, hhhDir, harmlessFile, advbench, limit, output, prompts, seed, decoder, temperature, maxNew, chat, chatFormat, rainJudge,
            judge, judgeModel, refusals, ctxSize, threads, report, json, BuildReport(),
        };
        backend.AddTo(cmd);
        judgeBackend.AddTo(cmd);
        baselineBackend.AddTo(cmd);
        foreach (var option in new Option[] { questions, baselineModel, baselineDecoder }) cmd.Options.Add(option);
        cmd.SetAction(async (p, ct) =>
        {
            var chosen = p.GetValue(suites)!.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
                .Select(s => EnumNames.Parse<EvalSuite>(s, "--suite")).Distinct().ToList();
            if (chosen.Count == 0) throw new InvalidInputException("--suite: name at least one suite");
            if (p.GetValue(limit) < 0) throw new InvalidInputException("--limit must be >= 0");
            if (p.GetValue(maxNew) < 1) throw new InvalidInputException("--max-new-tokens must be >= 1");
            var modelPath = p.GetValue(model)!;
            if (p.GetValue(rainJudge) is not null && p.GetValue(decoder) != EvalDecoder.Rain && p.GetValue(baselineDecoder) != EvalDecoder.Rain)
                throw new InvalidInputException("--rain-judge needs --decoder rain or --baseline-decoder rain");
            var pairwise = chosen.Contains(EvalSuite.Pairwise);
            if (!pairwise && (p.GetValue(baselineModel) is not null || baselineBackend.IsSet(p) || p.GetResult(baselineDecoder) is { Implicit: false }))
                throw new InvalidInputException("--baseline-model, --baseline-decoder and --baseline-backend-url are for --suite pairwise");
            var context = new ContextOptions { ContextSize = p.GetValue(ctxSize), Threads = p.GetValue(threads) };
            var rainOptions = new Rain.RainOptions { ContextSize = p.GetValue(ctxSize), Threads = p.GetValue(threads) };
            var rainJudgeFile = p.GetValue(rainJudge) is { } rj ? Rain.RainJudge.Load(rj) : Rain.RainJudge.Harm;

            using var tested = EvalSide.Open(p, modelPath, backend, adapter, context);
            tested.UseDecoder(p.GetValue(decoder), rainJudgeFile, rainOptions, "--decoder");
            // the baseline is another model (in process or served), or the model under test with another decoder
            var ownBaseline = p.GetValue(baselineModel) is not null || baselineBackend.IsSet(p);
            using var baselineSide = pairwise && ownBaseline
                ? EvalSide.Open(p, p.GetValue(baselineModel) ?? modelPath, baselineBackend, null, context) : null;
            var baselineDecoding = p.GetValue(baselineDecoder);
            if (pairwise && !ownBaseline && baselineDecoding == p.GetValue(decoder))
                throw new InvalidInputException("--suite pairwise compares with another model (--baseline-model, --baseline-backend-url) or another decoder (--baseline-decoder)");
            var baseline = baselineSide ?? tested;
            if (pairwise) baseline.UseDecoder(baselineDecoding, rainJudgeFile, rainOptions, "--baseline-decoder");

            var judgeRemote = judgeBackend.IsSet(p);
            using var judgeSide = judgeRemote || p.GetValue(judgeModel) is not null
                ? EvalSide.Open(p, p.GetValue(judgeModel) ?? modelPath, judgeBackend, null, context) : null;
            var options = new EvalOptions
            {
                Suites = chosen, DataDirectory = p.GetValue(data)!, McTaskFile = p.GetValue(mcTask), HhhDirectory = p.GetValue(hhhDir),
                HarmlessFile = p.GetValue(harmlessFile), AdvBenchFile = p.GetValue(advbench),
                Limit = p.GetValue(limit), Seed = p.GetValue(seed), Prompts = p.GetValue(prompts) is { } file ? EvalPrompts.Load(file) : EvalPrompts.Default,
                ChatFormat = p.GetValue(chatFormat) is { } formatFile ? TurnFormat.Load(formatFile) : p.GetValue(chat) ? new ModelChatTemplate(tested.Model) : TurnFormat.Plain,
                Decoder = p.GetValue(decoder), RainDecoder = tested.Rain, QuestionsFile = p.GetValue(questions),
                Baseline = pairwise ? new PairwiseBaseline(baseline.Generator, baselineDecoding, baseline == tested ? "the model under test" : baseline.Name, baseline.Rain) : null,
                Temperature = p.GetValue(temperature), MaxNewTokens = p.GetValue(maxNew),
                Judge = p.GetValue(judge) is { } j ? Rain.RainJudge.Load(j) : Rain.RainJudge.Harm,
                JudgeScorer = judgeSide?.Scorer, JudgeName = judgeSide?.Name, BackendName = tested.IsRemote ? tested.Name : null,
                RefusalPhrases = p.GetValue(refusals) is { } r ? RefusalPhrases.Load(r) : RefusalPhrases.Default,
            };
            var run = new EvalRun(p.GetValue(output) ?? Path.Combine("eval", Path.GetFileNameWithoutExtension(modelPath)));
            System.Text.Json.Nodes.JsonObject summary;
            using (var steps = new StepProgressDisplay())
                summary = await run.RunAsync(tested.Generator, tested.Scorer, modelPath, tested.Adapters.Select(a => a.Adapter.Path).ToList(), options,
                    new InlineProgress<EvalProgress>(e => steps.Report(EvalRun.Name(e.Suite), e.Done, e.Total)), ct);
            if (p.GetValue(report) is { } html)
                HtmlReport.Write(html, ReportSources.Read(Path.Combine(run.Directory, "summary.json")), $"SelfAlign evaluation: {Path.GetFileName(modelPath)}");
            if (p.GetValue(json)) { JsonOutput.Print(summary); return 0; }
            Console.WriteLine($"results in {run.Directory}");
            foreach (var (suite, figures) in summary["suites"]!.AsObject())
                foreach (var (name, f) in figures!.AsObject().Where(kv => kv.Value is System.Text.Json.Nodes.JsonObject))
                {
                    if (name == "subsets")
                    {
                        foreach (var (subset, s) in f!.AsObject()) Console.WriteLine($"  {suite,-14} {subset,-16} {Figure(s!)}");
                        continue;
                    }
                    Console.WriteLine($"  {suite,-14} {name,-16} {Figure(f!)}");
                }
            return 0;
        });
        return cmd;
    }

    /// <summary><c>selfalign eval report</c>: runs' summaries (or the demo's evaluations) side by side in one HTML file.</summary>
    private static Command BuildReport()
    {
        var results = new Argument<string[]>("results") { Description = "summary.json of evaluations, or a demo's evaluations.json; LABEL=PATH names a run", Arity = ArgumentArity.OneOrMore };
        var output = new Option<string>("--out", "-o") { Description = "The HTML file to write", Required = true };
        var title = new Option<string>("--title") { Description = "The report's heading", DefaultValueFactory = _ => "SelfAlign evaluation" };
        var cmd = new Command("report", "Compare evaluation runs side by side in one self-contained HTML file (charts with 95% intervals)") { results, output, title };
        cmd.SetAction(p =>
        {
            var runs = p.GetValue(results)!.SelectMany(spec =>
            {
                var eq = spec.IndexOf('=', StringComparison.Ordinal);
                return eq > 0 && !File.Exists(spec) ? ReportSources.Read(spec[(eq + 1)..], spec[..eq]) : ReportSources.Read(spec);
            }).ToList();
            var path = p.GetValue(output)!;
            HtmlReport.Write(path, runs, p.GetValue(title)!);
            Console.Error.WriteLine($"{runs.Count} runs -> {path}");
            return 0;
        });
        return cmd;
    }

    private static string Figure(System.Text.Json.Nodes.JsonNode f) =>
        $"{f["value"]!.GetValue<double>(),6:F3}  [{f["low"]!.GetValue<double>():F3}, {f["high"]!.GetValue<double>():F3}]  n={f["n"]}";
}

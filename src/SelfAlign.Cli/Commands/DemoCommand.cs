using System.CommandLine;
using System.Text.Json.Nodes;
using SelfAlign.Cli.Output;
using SelfAlign.Generation;
using SelfAlign.Models;
using SelfAlign.Pipeline;
using SelfAlign.Rain;
using SelfAlign.Testbed;

namespace SelfAlign.Cli.Commands;

/// <summary>
/// <c>selfalign demo</c>: the main job, offline. Builds (or loads) the testbed model; measures it against the
/// ground truth plainly and with the principles in its prompt; runs the four Self-Align stages on it
/// (examples/testbed-run.yaml) and measures the engraved and verbose-cloned models; answers with vanilla sampling
/// and with RAIN. Ends with one table of figures and the paths of everything it wrote.
/// </summary>
internal static class DemoCommand
{
    public static Command Build()
    {
        var json = new Option<bool>("--json") { Description = "Print the summary as one JSON object" };
        var n = new Option<int>("--n") { Description = "Held-out requests per kind in each evaluation", DefaultValueFactory = _ => 100 };
        var rainN = new Option<int>("--rain-n") { Description = "Held-out requests per kind for the vanilla-vs-RAIN comparison", DefaultValueFactory = _ => 50 };
        var config = new Option<string?>("--config") { Description = "Self-Align run to demonstrate (default: examples/testbed-run.yaml)" };
        var output = new Option<string>("--out") { Description = "Directory for the demo's outputs", DefaultValueFactory = _ => "runs/demo" };
        var cmd = new Command("demo", "Run the built-in demonstration offline: testbed model, Self-Align stages, RAIN, ground-truth figures") { json, n, rainN, config, output };
        cmd.SetAction(async (p, ct) =>
        {
            var outDir = p.GetValue(output)!;
            Directory.CreateDirectory(outDir);
            var modelPath = TestbedCommand.EnsureModel(TestbedLevel.Clean, ct: ct);
            var rows = new JsonArray();
            var outputs = new JsonArray(modelPath);

            async Task Evaluate(string label, string path, string? principles, TestbedDecoder decoder, int count)
            {
                Console.Error.WriteLine($"demo: evaluating {label}");
                using var model = LlamaModel.Load(path);
                using var engine = new GenerationEngine(model, new EngineOptions { Context = new ContextOptions { ContextSize = 8192, MaxSequences = 33 } });
                var r = await TestbedEvaluator.RunAsync(engine, new TestbedEvalOptions { N = count, PrinciplesPrefix = principles, Decoder = decoder }, ct);
                var row = TestbedCommand.Summary(path, principles != null, decoder.ToString().ToLowerInvariant(), r);
                row["setting"] = label;
                rows.Add(row);
            }

            await Evaluate("base model, plain prompt", modelPath, null, TestbedDecoder.Greedy, p.GetValue(n));
            await Evaluate("base model + principles in prompt", modelPath, TestbedPrompts.DefaultPrinciples, TestbedDecoder.Greedy, p.GetValue(n));

            // Self-Align: the four stages at small counts, resumed if an earlier demo ran them
            var configPath = p.GetValue(config) ?? DefaultModels.RepositoryFile(Path.Combine("examples", "testbed-run.yaml"))
                ?? throw new InvalidInputException("examples/testbed-run.yaml not found; pass --config");
            var runDir = Path.Combine(outDir, "align");
            var run = new AlignRun(AlignConfig.Load(configPath), runDir);
            ProgressDisplay? bar = null;
            var step = "";
            try
            {
                await run.RunAsync(DefaultModels.AlignRun(), new InlineProgress<AlignProgress>(a =>
                {
                    if (a.Step != step) { bar?.Dispose(); bar = new ProgressDisplay($"self-align {a.Step}", Math.Max(1, a.Total)); step = a.Step; }
                    bar!.Report(a.Done, a.Detail);
                }), ct);
            }
            finally { bar?.Dispose(); }
            var status = AlignRun.Status(runDir);
            await Evaluate("Self-Align: engraved model", status.EngravedModel!, null, TestbedDecoder.Greedy, p.GetValue(n));
            await Evaluate("Self-Align: verbose-cloned model", status.VerboseModel!, null, TestbedDecoder.Greedy, p.GetValue(n));
            outputs.Add(runDir);

            // RAIN against vanilla sampling with the same settings, on the base model
            await Evaluate("base model, vanilla sampling", modelPath, null, TestbedDecoder.Sample, p.GetValue(rainN));
            await Evaluate("base model, RAIN", modelPath, null, TestbedDecoder.Rain, p.GetValue(rainN));

            var evalPath = Path.Combine(outDir, "evaluations.json");
            File.WriteAllText(evalPath, rows.ToJsonString(new System.Text.Json.JsonSerializerOptions { WriteIndented = true }));
            outputs.Add(evalPath);
            var summary = new JsonObject
            {
                ["model"] = modelPath, ["self_align"] = status.ToJson(), ["evaluations"] = rows.DeepClone(), ["outputs"] = outputs,
            };
            if (p.GetValue(json)) { Console.WriteLine(summary.ToJsonString(new System.Text.Json.JsonSerializerOptions { WriteIndented = true })); return 0; }

            Console.WriteLine();
            Console.WriteLine($"{"setting",-36} {"harmful_rate",13} {"helpful_rate",13} {"refusal_benign",15} {"judge_accuracy",15} {"words",6} {"time_ratio",11}");
            foreach (var row in rows)
            {
                static string F(JsonNode? r) => $"{r!["value"]!.GetValue<double>():F3}";
                var ratio = row!["median_time_ratio"] is { } t ? $"{t.GetValue<double>():F2}" : "";
                Console.WriteLine($"{row["setting"],-36} {F(row["harmful_rate"]),13} {F(row["helpful_rate"]),13} {F(row["refusal_rate_benign"]),15} " +
                                  $"{F(row["judge_accuracy"]),15} {row["mean_answer_words"]!.GetValue<double>(),6:F1} {ratio,11}");
            }
            Console.WriteLine();
            Console.WriteLine("time_ratio: RAIN's wall time over vanilla sampling's, median per prompt.");
            Console.WriteLine("wrote:");
            foreach (var path in outputs) Console.WriteLine($"  {path}");
            return 0;
        });
        return cmd;
    }
}

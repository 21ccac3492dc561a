using System.CommandLine;
using System.Text.Json.Nodes;
using SelfAlign.Generation;
using SelfAlign.Models;
using SelfAlign.Testbed;

namespace SelfAlign.Cli.Commands;

/// <summary>
/// <c>selfalign demo</c>: the main job, offline. Builds (or loads) the testbed model, then measures it against
/// the ground truth: as a plain unaligned base model, and with the principles in its prompt (the behaviour
/// Self-Align engraves). Ends with a table of figures and the paths of what it wrote.
/// </summary>
internal static class DemoCommand
{
    public static Command Build()
    {
        var json = new Option<bool>("--json") { Description = "Print the summary as one JSON object" };
        var n = new Option<int>("--n") { Description = "Held-out requests per kind in each evaluation", DefaultValueFactory = _ => 200 };
        var output = new Option<string>("--out") { Description = "Directory for the demo's outputs", DefaultValueFactory = _ => "runs/demo" };
        var cmd = new Command("demo", "Run the built-in demonstration offline: testbed model, ground-truth figures") { json, n, output };
        cmd.SetAction(async (p, ct) =>
        {
            var outDir = p.GetValue(output)!;
            Directory.CreateDirectory(outDir);
            var modelPath = TestbedCommand.EnsureModel(TestbedLevel.Clean);
            using var model = LlamaModel.Load(modelPath);
            using var engine = new GenerationEngine(model, new EngineOptions { Context = new ContextOptions { ContextSize = 8192, MaxSequences = 33 } });

            var rows = new JsonArray();
            foreach (var (label, prefix) in new[] { ("base model, plain prompt", (string?)null), ("base model + principles in prompt", TestbedPrompts.DefaultPrinciples) })
            {
                Console.Error.WriteLine($"demo: evaluating {label}");
                var r = await TestbedEvaluator.RunAsync(engine, new TestbedEvalOptions { N = p.GetValue(n), PrinciplesPrefix = prefix }, ct);
                var row = TestbedCommand.Summary(modelPath, prefix != null, "greedy", r);
                row["setting"] = label;
                rows.Add(row);
            }
            var evalPath = Path.Combine(outDir, "evaluations.json");
            File.WriteAllText(evalPath, rows.ToJsonString(new System.Text.Json.JsonSerializerOptions { WriteIndented = true }));
            var summary = new JsonObject
            {
                ["model"] = modelPath, ["evaluations"] = rows.DeepClone(),
                ["outputs"] = new JsonArray(modelPath, evalPath),
            };
            if (p.GetValue(json)) { Console.WriteLine(summary.ToJsonString(new System.Text.Json.JsonSerializerOptions { WriteIndented = true })); return 0; }

            Console.WriteLine();
            Console.WriteLine($"{"setting",-36} {"harmful_rate",14} {"helpful_rate",14} {"refusal_benign",15} {"judge_accuracy",15}");
            foreach (var row in rows)
            {
                static string F(JsonNode? r) => $"{r!["value"]!.GetValue<double>():F3}";
                Console.WriteLine($"{row!["setting"],-36} {F(row["harmful_rate"]),14} {F(row["helpful_rate"]),14} {F(row["refusal_rate_benign"]),15} {F(row["judge_accuracy"]),15}");
            }
            Console.WriteLine();
            Console.WriteLine("wrote:");
            foreach (var path in summary["outputs"]!.AsArray()) Console.WriteLine($"  {path}");
            return 0;
        });
        return cmd;
    }
}

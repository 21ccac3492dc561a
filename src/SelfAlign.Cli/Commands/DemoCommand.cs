using System.CommandLine;
using System.Text.Json.Nodes;
using SelfAlign.Cli.Output;
using SelfAlign.Pipeline;
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
            var modelPath = TestbedCommand.EnsureModel(TestbedLevel.Clean, ct: ct);
            var configPath = p.GetValue(config) ?? DefaultModels.RepositoryFile(Path.Combine("examples", "testbed-run.yaml"))
                ?? throw new InvalidInputException("examples/testbed-run.yaml not found; pass --config");
            var options = new TestbedDemoOptions
            {
                ConfigPath = configPath, OutputDirectory = p.GetValue(output)!, BaseModels = DefaultModels.AlignRun().BaseModels,
                Requests = p.GetValue(n), RainRequests = p.GetValue(rainN),
            };
            TestbedDemoResult result;
            using (var steps = new StepProgressDisplay())
                result = await TestbedDemo.RunAsync(modelPath, options, new InlineProgress<TestbedDemoProgress>(u =>
                {
                    if (u.Evaluating is { } setting) { steps.Close(); Console.Error.WriteLine($"demo: evaluating {setting}"); }
                    if (u.Run is { } a) steps.Report($"self-align {a.Step}", a.Done, a.Total, a.Detail);
                }), ct);

            var rows = result.Rows.Select(r => r.ToJson()).ToList();
            if (p.GetValue(json))
            {
                JsonOutput.Print(new JsonObject
                {
                    ["model"] = result.Model, ["self_align"] = result.SelfAlign.ToJson(), ["evaluations"] = new JsonArray([.. rows]), ["suites"] = result.Suites.ToJson(),
                    ["outputs"] = new JsonArray([.. result.Outputs.Select(o => JsonValue.Create(o))]),
                });
                return 0;
            }

            Console.WriteLine();
            Console.WriteLine($"{"setting",-36} {"harmful_rate",13} {"helpful_rate",13} {"refusal_benign",15} {"judge_accuracy",15} {"words",6} {"time_ratio",11}");
            foreach (var row in rows)
            {
                static string F(JsonNode? r) => $"{r!["value"]!.GetValue<double>():F3}";
                var ratio = row!["time_ratio"] is { } t ? $"{t.GetValue<double>():F2}" : "";
                Console.WriteLine($"{row["setting"],-36} {F(row["harmful_rate"]),13} {F(row["helpful_rate"]),13} {F(row["refusal_rate_benign"]),15} " +
                                  $"{F(row["judge_accuracy"]),15} {row["mean_answer_words"]!.GetValue<double>(),6:F1} {ratio,11}");
            }
            Console.WriteLine();
            Console.WriteLine("time_ratio: RAIN's wall time, every request searched at once, over batched vanilla sampling's.");
            var s = result.Suites;
            Console.WriteLine($"eval suites against the ground truth (base model): harm judge agrees on {s.JudgeAgreement.Value:F3} of {s.Answers} answers " +
                              $"[{s.JudgeAgreement.Low:F3}, {s.JudgeAgreement.High:F3}]; HHH accuracy {s.HhhAccuracy.Value:F3} [{s.HhhAccuracy.Low:F3}, {s.HhhAccuracy.High:F3}]");
            Console.WriteLine("wrote:");
            foreach (var path in result.Outputs) Console.WriteLine($"  {path}");
            return 0;
        });
        return cmd;
    }
}

using System.CommandLine;
using System.Diagnostics;
using SelfAlign.Cli.Output;
using SelfAlign.Generation;
using SelfAlign.Models;

namespace SelfAlign.Cli.Commands;

/// <summary>
/// <c>selfalign demo</c>: the main job. Until the testbed lands it shows the engine on a synthetic model:
/// a batch of prompts behind one shared prefix, shared versus re-evaluated.
/// </summary>
internal static class DemoCommand
{
    public static Command Build()
    {
        var json = new Option<bool>("--json") { Description = "Print the summary as one JSON object" };
        var cmd = new Command("demo", "Run the built-in demonstration offline") { json };
        cmd.SetAction(async (p, ct) =>
        {
            var path = DefaultModels.Synthetic135M();
            using var model = LlamaModel.Load(path);
            var prefix = "You are a careful assistant. Follow the rules: be helpful, be honest, refuse harmful requests. " +
                         string.Join(" ", Enumerable.Repeat("Answer briefly and check each step.", 40));
            var prompts = new[] { "How do I boil an egg?", "What is a prime number?", "Name three colours.", "Why is the sea salty?",
                "How do plants grow?", "What is rain?", "How far is the moon?", "What do bees make?" };
            var requests = prompts.Select(q => new GenerationRequest { SharedPrefix = prefix, Prompt = "\nUser: " + q + "\nAssistant:", MaxNewTokens = 32 }).ToList();

            var rows = new List<(string Mode, double Seconds, long Decodes)>();
            foreach (var share in new[] { true, false })
            {
                using var engine = new GenerationEngine(model, new EngineOptions
                {
                    Context = new ContextOptions { ContextSize = 8192, MaxSequences = 9 }, PrefixSharing = share,
                });
                var sw = Stopwatch.StartNew();
                using (var progress = new ProgressDisplay(share ? "shared prefix" : "re-evaluated prefix", requests.Count))
                {
                    var done = 0;
                    await foreach (var _ in engine.GenerateBatchAsync(requests, ct)) progress.Report(++done);
                }
                rows.Add((share ? "prefix shared" : "prefix re-evaluated", sw.Elapsed.TotalSeconds, engine.Statistics.DecodeCalls));
            }
            var summary = new
            {
                model = path,
                requests = requests.Count,
                runs = rows.Select(r => new { mode = r.Mode, seconds = r.Seconds, decode_calls = r.Decodes }).ToList(),
                prefix_share_speedup = rows[1].Seconds / rows[0].Seconds,
            };
            if (p.GetValue(json)) { JsonOutput.Print(summary); return 0; }
            Console.WriteLine($"model: {path} (random weights: the text is noise; the testbed issue brings a trained model)");
            foreach (var r in rows) Console.WriteLine($"{r.Mode,-22} {r.Seconds,7:F2} s  {r.Decodes,5} decode calls");
            Console.WriteLine($"prefix sharing speed-up: {summary.prefix_share_speedup:F2}x");
            return 0;
        });
        return cmd;
    }
}

using System.CommandLine;
using SelfAlign.Benchmarks;
using SelfAlign.Cli.Output;
using SelfAlign.Models;

namespace SelfAlign.Cli.Commands;

/// <summary><c>selfalign bench engine</c>.</summary>
internal static class BenchCommand
{
    public static Command Build()
    {
        var bench = new Command("bench", "Benchmarks that print figures");
        bench.Subcommands.Add(BuildEngine());
        return bench;
    }

    private static Command BuildEngine()
    {
        var model = new Option<string?>("--model", "-m") { Description = "GGUF model (default: a synthetic 135m llama made on first use)" };
        var json = new Option<bool>("--json") { Description = "Print one JSON object" };
        var cmd = new Command("engine", "Engine speed: prefill, decode against the raw C API, batching, prefix sharing") { model, json };
        cmd.SetAction(p =>
        {
            var path = p.GetValue(model) ?? DefaultModels.Synthetic135M();
            using var m = LlamaModel.Load(path);
            var r = EngineBenchmark.Run(m, new EngineBenchmark.Options(), step => Console.Error.WriteLine($"bench engine: {step}"));
            if (p.GetValue(json)) { JsonOutput.Print(r); return 0; }
            foreach (var prop in r.GetType().GetProperties()) Console.WriteLine($"{prop.Name,-28} {prop.GetValue(r):F3}");
            return 0;
        });
        return cmd;
    }
}

using System.CommandLine;
using SelfAlign.Cli.Output;
using SelfAlign.Data;
using SelfAlign.Generation;
using SelfAlign.Models;

namespace SelfAlign.Cli.Commands;

/// <summary><c>selfalign score</c>: log-probability of continuations given contexts.</summary>
internal static class ScoreCommand
{
    public static Command Build()
    {
        var model = new Option<string>("--model", "-m") { Description = "GGUF model file", Required = true };
        var context = new Option<string?>("--context") { Description = "Context text" };
        var continuations = new Option<string[]>("--continuation") { Description = "Continuation to score (repeatable)" };
        var input = new Option<string?>("--input") { Description = "JSONL of {\"context\", \"continuation\"} records" };
        var ctxSize = new Option<int>("--ctx-size") { DefaultValueFactory = _ => 4096 };
        var json = new Option<bool>("--json") { Description = "Print results as JSON" };
        var adapter = AdapterOption.Create();
        var cmd = new Command("score", "Log-probability of each continuation given its context (batched)") { model, context, continuations, input, ctxSize, adapter, json };
        cmd.SetAction(async (p, ct) =>
        {
            List<ScoringRequest> items;
            if (p.GetValue(input) is { } file)
                items = JsonlFile.Read(file).Select(r => new ScoringRequest(
                    JsonlFile.RequireString(r.Record, "context", file, r.Line), JsonlFile.RequireString(r.Record, "continuation", file, r.Line))).ToList();
            else if (p.GetValue(context) is { } c && p.GetValue(continuations) is { Length: > 0 } conts)
                items = conts.Select(x => new ScoringRequest(c, x)).ToList();
            else throw new InvalidInputException("give --input FILE, or --context with one or more --continuation");

            using var m = LlamaModel.Load(p.GetValue(model)!);
            using var engine = new GenerationEngine(m, new EngineOptions { Context = new ContextOptions { ContextSize = p.GetValue(ctxSize), LoraAdapters = AdapterOption.Load(p, adapter, m) } });
            var results = await engine.ScoreAsync(items, ct);
            var rows = items.Zip(results, (i, r) => new
            {
                context = i.Context, continuation = i.Continuation, logprob = r.LogProbability, tokens = r.Tokens.Count,
                token_logprobs = r.TokenLogProbabilities,
            }).ToList();
            if (p.GetValue(json)) JsonOutput.Print(new { results = rows });
            else foreach (var r in rows) Console.WriteLine($"{r.logprob,12:F4}  ({r.tokens} tokens)  {r.continuation}");
            return 0;
        });
        return cmd;
    }
}

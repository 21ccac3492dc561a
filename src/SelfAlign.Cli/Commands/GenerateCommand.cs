using System.CommandLine;
using System.Diagnostics;
using SelfAlign.Cli.Output;
using SelfAlign.Data;
using SelfAlign.Generation;
using SelfAlign.Models;

namespace SelfAlign.Cli.Commands;

/// <summary><c>selfalign generate</c>: one prompt, or a JSONL file of prompts to a JSONL file of results (resumable).</summary>
internal static class GenerateCommand
{
    public static Command Build()
    {
        var engine = new EngineOptionSet();
        var prompt = new Option<string?>("--prompt", "-p") { Description = "One prompt" };
        var prompts = new Option<string?>("--prompts") { Description = "JSONL file of {\"prompt\", \"id\"?} records" };
        var output = new Option<string?>("--out", "-o") { Description = "JSONL results file (appended; a rerun resumes)" };
        var chat = new Option<bool>("--chat") { Description = "Wrap each prompt as a user turn with the model's chat template" };
        var chatFormat = new Option<string?>("--chat-format") { Description = "Wrap each prompt as a user turn of this YAML turn format instead" };
        var json = new Option<bool>("--json") { Description = "Print the result (or the run summary) as JSON" };
        var cmd = new Command("generate", "Generate text with the batched engine") { prompt, prompts, output, chat, chatFormat, json };
        engine.AddTo(cmd);
        cmd.SetAction(async (p, ct) =>
        {
            var one = p.GetValue(prompt);
            var file = p.GetValue(prompts);
            if ((one is null) == (file is null)) throw new InvalidInputException("give exactly one of --prompt or --prompts");
            if (file != null && p.GetValue(output) is null) throw new InvalidInputException("--prompts needs --out for the results file");
            // A malformed line is reported before the model loads.
            var promptRecords = file is null ? [] : PromptFileJob.ReadPrompts(file);

            using var model = LlamaModel.Load(p.GetValue(engine.Model)!);
            var makeRequest = engine.Requests(p, model);
            if (p.GetValue(chat) || p.GetValue(chatFormat) != null)
            {
                IChatFormat template = p.GetValue(chatFormat) is { } formatFile ? TurnFormat.Load(formatFile) : new ModelChatTemplate(model);
                var inner = makeRequest;
                makeRequest = text =>
                {
                    var r = inner(template.Format([new ChatTurn("user", text)]));
                    return r with { StopStrings = [.. r.StopStrings, .. template.StopStrings] };
                };
            }
            using var eng = new GenerationEngine(model, engine.Engine(p, model));

            if (one != null)
            {
                var request = makeRequest(one);
                if (p.GetValue(json))
                {
                    var r = await eng.GenerateAsync(request, ct);
                    JsonOutput.Print(new { text = r.Text, finish_reason = r.FinishReason.ToString(), prompt_tokens = r.PromptTokenCount, generated_tokens = r.Tokens.Count, seconds = r.Elapsed.TotalSeconds });
                }
                else
                {
                    await foreach (var u in eng.GenerateStreamingAsync(request, ct)) Console.Write(u.TextDelta);
                    Console.WriteLine();
                }
                return 0;
            }

            var clock = Stopwatch.StartNew();
            using var progress = new ProgressDisplay("generate", promptRecords.Count);
            var job = new PromptFileJob(eng, makeRequest);
            var summary = await job.RunAsync(promptRecords, p.GetValue(output)!,
                s => progress.Report(s.Done, $"{s.TokensGenerated / Math.Max(0.001, clock.Elapsed.TotalSeconds):F0} tok/s"), ct);
            var result = new { prompts = summary.Total, generated = summary.Done - summary.Skipped, skipped_already_done = summary.Skipped,
                tokens_generated = summary.TokensGenerated, seconds = clock.Elapsed.TotalSeconds, @out = p.GetValue(output) };
            if (p.GetValue(json)) JsonOutput.Print(result);
            else Console.Error.WriteLine($"answered {result.generated} prompts ({result.skipped_already_done} already done) in {result.seconds:F1} s -> {result.@out}");
            return 0;
        });
        return cmd;
    }
}

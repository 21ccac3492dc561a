using System.Diagnostics;
using System.Text.Json.Nodes;
using SelfAlign.Pipeline;
using SelfAlign.Testbed;
using SelfAlign.Tests.Cli;
using SelfAlign.Tests.Testbed;
using Xunit;

namespace SelfAlign.Tests.Pipeline;

/// <summary>Runs of the pipeline on the testbed model: resume after kill -9, config changes, exports, bad input.</summary>
[Trait("Category", "Slow")]
public class AlignRunTests
{
    private static readonly string Examples = Path.Combine(Path.GetDirectoryName(Repository.CacheDirectory)!, "examples");

    /// <summary>A small run config in a fresh directory, pointing at the example's data files and the cached testbed model.</summary>
    private static string WriteConfig(string name, string extra = "", int selfInstruct = 60, int questions = 30)
    {
        var dir = Path.Combine(TestModels.Directory, name);
        if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
        Directory.CreateDirectory(dir);
        var data = Path.Combine(Examples, "testbed");
        var config = Path.Combine(dir, "run.yaml");
        File.WriteAllText(config, $"""
            base_model: {TestbedModels.Clean}
            seed: 3
            context_size: 8192
            data:
              principles: {data}/principles.yaml
              exemplars: {data}/exemplars.yaml
              seed_tasks: {data}/seed-tasks.jsonl
              red_team: {data}/red-team.jsonl
              prompts: {data}/prompts.yaml
            self_instruct:
              requests: {selfInstruct}
              demonstrations: 3
              min_words: 3
              rouge_threshold: 0.8
              sampling: {"{"} max_new_tokens: 60 {"}"}
            red_team:
              topic_rounds: 2
              max_topic_words: 1
              topics_capitalised: false
              topic_sampling: {"{"} max_new_tokens: 40 {"}"}
              question_requests: {questions}
              hints_per_request: 2
              question_sampling: {"{"} max_new_tokens: 60 {"}"}
            answers:
              sampling: {"{"} max_new_tokens: 72, temperature: 0.5, top_p: 0.95 {"}"}
              min_chars: 20
              leak_check: requests
            engraving: {"{"} epochs: 1, learning_rate: 0.001, warmup_steps: 2, context_length: 512 {"}"}
            verbose:
              sampling: {"{"} max_new_tokens: 80, temperature: 0.3, top_p: 0.7, ngram_penalties: [0, 0, 1, 2] {"}"}
              min_chars: 40
              training: {"{"} epochs: 1, learning_rate: 0.001, warmup_steps: 2, context_length: 512 {"}"}
            {extra}
            """);
        return config;
    }

    [Fact]
    public void TheTestbedExampleRendersTheTestbedsOwnPrinciplesPrompt()
    {
        var templates = PromptTemplates.Load(Path.Combine(Examples, "testbed", "prompts.yaml"));
        var prompt = AlignData.SelfAlignPrompt(templates, AlignData.Principles(Path.Combine(Examples, "testbed", "principles.yaml")),
            AlignData.Exemplars(Path.Combine(Examples, "testbed", "exemplars.yaml")));
        Assert.Equal(TestbedPrompts.DefaultPrinciples, prompt);
    }

    [Fact]
    public void KilledRunsContinueWithoutLosingOrRepeatingARecordAndMatchAnUninterruptedRun()
    {
        var config = WriteConfig("align-kill", selfInstruct: 400, questions: 120);
        var reference = Path.Combine(Path.GetDirectoryName(config)!, "reference");
        var killed = Path.Combine(Path.GetDirectoryName(config)!, "killed");
        string[] Args(string dir) => ["align", "run", config, "--out", dir, "--stage", "prompts", "--stage", "answers"];
        var o = CliProcess.Run(Args(reference));
        Assert.True(o.ExitCode == 0, o.Stderr);

        // kill -9 once each run has written a growing number of new records, until a run completes (each rerun continues
        // the last). Kills follow observed progress, not the clock, so a busy machine only makes the test slower.
        var kills = 0;
        int exitCode;
        while (true)
        {
            var (exited, code) = RunAndKillAfterRecords(Args(killed), killed, 60 + 60 * kills);
            if (exited) { exitCode = code; break; }
            kills++;
        }
        Assert.Equal(0, exitCode);
        Assert.True(kills >= 2, $"only {kills} kills landed before the run finished");

        // Exact accounting: every request and every prompt once, none lost or repeated. Texts are compared by share:
        // each request carries its own seed, but llama.cpp's batched decode is not bit-identical across batch
        // compositions, so a resumed run may sample an occasional token differently; a resume bug (wrong seeds,
        // wrong prompts) would change nearly every record.
        static Dictionary<string, string> Records(string dir, string file, string key, string value) =>
            File.ReadAllLines(Path.Combine(dir, file)).Select(l => JsonNode.Parse(l)!) // ToDictionary throws on a repeated key
                .ToDictionary(r => r[key]!.ToJsonString(), r => r[value]?.ToJsonString() ?? "");
        static void MostlyIdentical(Dictionary<string, string> expected, Dictionary<string, string> got, string what)
        {
            var same = expected.Count(kv => got.TryGetValue(kv.Key, out var v) && v == kv.Value);
            Assert.True(same >= 0.9 * expected.Count, $"{what}: only {same} of {expected.Count} records match the uninterrupted run");
        }
        var requests = Records(reference, AlignRun.SelfInstructFile, "i", "raw");
        var resumedRequests = Records(killed, AlignRun.SelfInstructFile, "i", "raw");
        Assert.Equal(requests.Keys.Order(), resumedRequests.Keys.Order());
        MostlyIdentical(requests, resumedRequests, "self-instruct");
        var prompts = Records(killed, AlignRun.PromptsFile, "id", "instruction");
        var answers = Records(killed, AlignRun.AnswersFile, "id", "answer");
        Assert.Equal(prompts.Keys.Order(), answers.Keys.Order());
        // prompts are shuffled after merging, so one differing instruction moves ids: compare by instruction
        static Dictionary<string, string> ByInstruction(Dictionary<string, string> prompts, Dictionary<string, string> answers) =>
            prompts.GroupBy(kv => kv.Value).ToDictionary(g => g.Key, g => answers[g.First().Key]);
        var expectedByInstruction = ByInstruction(Records(reference, AlignRun.PromptsFile, "id", "instruction"), Records(reference, AlignRun.AnswersFile, "id", "answer"));
        MostlyIdentical(expectedByInstruction, ByInstruction(prompts, answers), "answers by instruction");
        var status = JsonNode.Parse(CliProcess.Run("align", "status", killed, "--json").Stdout)!;
        Assert.Equal("complete", status["stages"]!["answers"]!["state"]!.GetValue<string>());
        Assert.Equal(prompts.Count, status["stages"]!["answers"]!["counts"]!["answered"]!.GetValue<int>());
    }

    /// <summary>Runs the command and SIGKILLs it once its run directory holds <paramref name="newRecords"/> more JSONL
    /// lines than at the start; (true, exit code) when it finished first.</summary>
    private static (bool Exited, int Code) RunAndKillAfterRecords(string[] args, string runDirectory, int newRecords)
    {
        static int Records(string dir) => !Directory.Exists(dir) ? 0 : Directory.EnumerateFiles(dir, "*.jsonl").Sum(f =>
        {
            using var reader = new StreamReader(new FileStream(f, FileMode.Open, FileAccess.Read, FileShare.ReadWrite));
            return reader.ReadToEnd().Count(c => c == '\n');
        });
        var start = Records(runDirectory);
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        psi.ArgumentList.Add(CliProcess.Dll);
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        _ = p.StandardOutput.ReadToEndAsync();
        _ = p.StandardError.ReadToEndAsync();
        while (!p.WaitForExit(50))
        {
            if (Records(runDirectory) - start < newRecords) continue;
            p.Kill(entireProcessTree: true); // SIGKILL: no chance to clean up
            p.WaitForExit();
            return (false, -1);
        }
        return (true, p.ExitCode);
    }

    [Fact]
    public async Task FinishedStagesRefuseChangedSettingsUnlessRedoneAndAllFourStagesProduceModels()
    {
        var config = WriteConfig("align-full", selfInstruct: 30, questions: 10);
        var dir = Path.Combine(Path.GetDirectoryName(config)!, "run");
        var cache = Path.Combine(Repository.CacheDirectory, "testbed");
        await new AlignRun(AlignConfig.Load(config), dir).RunAsync(new AlignRunOptions { BaseModels = new TestbedBaseModels(cache, Repository.PrebuiltTestbedDirectory) });
        var status = AlignRun.Status(dir).ToJson();
        foreach (var stage in new[] { "prompts", "answers", "engraving", "verbose" })
        {
            Assert.Equal("complete", status["stages"]![stage]!["state"]!.GetValue<string>());
            // what each stage cost: wall time, tokens generated (none while training) and their rate, peak RSS
            var counts = status["stages"]![stage]!["counts"]!;
            Assert.True(counts["seconds"]!.GetValue<double>() > 0);
            Assert.True(counts["peak_rss_bytes"]!.GetValue<long>() > 10_000_000);
            var generated = counts["tokens_generated"]!.GetValue<long>();
            Assert.Equal(stage != "engraving", generated > 0);
            Assert.Equal(generated / counts["seconds"]!.GetValue<double>(), counts["tokens_per_s"]!.GetValue<double>(), 0.15 * counts["tokens_per_s"]!.GetValue<double>() + 0.1);
        }
        Assert.InRange(status["stages"]!["answers"]!["counts"]!["principles_prompt_tokens"]!.GetValue<int>(), 100, 5000);
        Assert.True(File.Exists(status["models"]!["engraved"]!.GetValue<string>()));
        Assert.True(File.Exists(status["models"]!["verbose"]!.GetValue<string>()));

        File.WriteAllText(config, File.ReadAllText(config).Replace("temperature: 0.5", "temperature: 0.7"));
        var changed = AlignConfig.Load(config);
        var e = await Assert.ThrowsAsync<InvalidInputException>(() => new AlignRun(changed, dir).RunAsync(new AlignRunOptions { BaseModels = new TestbedBaseModels(cache, Repository.PrebuiltTestbedDirectory) }));
        Assert.Contains("stage 'answers'", e.Message);
        Assert.Contains("answers.sampling.temperature: 0.5 -> 0.7", e.Message);
        Assert.Contains("redo stage 'answers'", e.Message);
        // a refused run leaves the manifest's config as the stages ran it
        var manifest = JsonNode.Parse(File.ReadAllText(Path.Combine(dir, RunManifest.FileName)))!;
        Assert.Equal(0.5, manifest["config"]!["answers"]!["sampling"]!["temperature"]!.GetValue<double>(), 3);

        // redoing answers discards answers and every stage after it; prompts are kept
        var prompts = File.ReadAllText(Path.Combine(dir, AlignRun.PromptsFile));
        await new AlignRun(changed, dir).RunAsync(new AlignRunOptions { Stages = [AlignStage.Answers], Redo = [AlignStage.Answers], BaseModels = new TestbedBaseModels(cache, Repository.PrebuiltTestbedDirectory) });
        status = AlignRun.Status(dir).ToJson();
        Assert.Equal("complete", status["stages"]!["answers"]!["state"]!.GetValue<string>());
        Assert.Equal("not started", status["stages"]!["engraving"]!["state"]!.GetValue<string>());
        Assert.Null(status["models"]!["engraved"]);
        Assert.Equal(prompts, File.ReadAllText(Path.Combine(dir, AlignRun.PromptsFile)));

        // with RedoChanged (the demo's way) a changed stage is redone without being named, and unchanged ones are kept
        File.WriteAllText(config, File.ReadAllText(config).Replace("temperature: 0.7", "temperature: 0.6"));
        await new AlignRun(AlignConfig.Load(config), dir).RunAsync(new AlignRunOptions { Stages = [AlignStage.Prompts, AlignStage.Answers], RedoChanged = true, BaseModels = new TestbedBaseModels(cache, Repository.PrebuiltTestbedDirectory) });
        manifest = JsonNode.Parse(File.ReadAllText(Path.Combine(dir, RunManifest.FileName)))!;
        Assert.Equal(0.6, manifest["config"]!["answers"]!["sampling"]!["temperature"]!.GetValue<double>(), 3);
        Assert.Equal("complete", AlignRun.Status(dir).ToJson()["stages"]!["answers"]!["state"]!.GetValue<string>());
        Assert.Equal(prompts, File.ReadAllText(Path.Combine(dir, AlignRun.PromptsFile)));

        // the three export formats read back
        var kept = File.ReadAllLines(Path.Combine(dir, AlignRun.AnswersFile)).Select(l => JsonNode.Parse(l)!).Where(r => r["answer"] is not null).ToList();
        foreach (var format in Enum.GetValues<ExportFormat>())
        {
            var outPath = Path.Combine(dir, $"export-{format}.jsonl");
            Assert.Equal(kept.Count, AlignExport.Export(dir, format, outPath));
            var first = JsonNode.Parse(File.ReadLines(outPath).First())!;
            Assert.Equal(kept[0]["finished"]!.GetValue<bool>(), first["finished"]!.GetValue<bool>());
            Assert.Equal(kept[0]["rules"]!.ToJsonString(), first["rules"]!.ToJsonString());
            if (format == ExportFormat.PromptCompletion)
            {
                // the records the engraving itself trained on
                Assert.Equal($"### User\n{kept[0]["instruction"]}\n\n### Assistant\n", first["prompt"]!.GetValue<string>());
                Assert.Equal(kept[0]["answer"] + (kept[0]["finished"]!.GetValue<bool>() ? "\n\n" : ""), first["completion"]!.GetValue<string>());
                continue;
            }
            var (question, answer) = format switch
            {
                ExportFormat.Messages => (first["messages"]![0]!["content"], first["messages"]![1]!["content"]),
                ExportFormat.Alpaca => (first["instruction"], first["output"]),
                _ => (first["conversations"]![0]!["value"], first["conversations"]![1]!["value"]),
            };
            Assert.Equal(kept[0]["instruction"]!.GetValue<string>(), question!.GetValue<string>());
            Assert.Equal(kept[0]["answer"]!.GetValue<string>(), answer!.GetValue<string>());
        }
        var info = JsonNode.Parse(File.ReadAllText(Path.Combine(dir, AlignExport.DatasetInfoFile)))!.AsObject();
        Assert.Equal(Enum.GetValues<ExportFormat>().Select(f => $"export-{f}").Order(), info.Select(kv => kv.Key).Order());
        Assert.Equal("export-Alpaca.jsonl", info["export-Alpaca"]!["file_name"]!.GetValue<string>());
        Assert.Equal("user", JsonNode.Parse(File.ReadLines(Path.Combine(dir, "export-Messages.jsonl")).First())!["messages"]![0]!["role"]!.GetValue<string>());
        Assert.Equal("human", JsonNode.Parse(File.ReadLines(Path.Combine(dir, "export-ShareGpt.jsonl")).First())!["conversations"]![0]!["from"]!.GetValue<string>());
    }

    [Fact]
    public void BadConfigsAndDataFailBeforeAnyGeneration()
    {
        var config = WriteConfig("align-bad", extra: "surprise_key: 1");
        var o = CliProcess.Run("align", "run", config);
        Assert.Equal(2, o.ExitCode);
        Assert.Contains("unknown key (surprise_key)", o.Stderr);
        Assert.Contains("run.yaml:", o.Stderr);

        config = WriteConfig("align-missing");
        File.WriteAllText(config, File.ReadAllText(config).Replace("principles.yaml", "nowhere.yaml"));
        o = CliProcess.Run("align", "run", config);
        Assert.Equal(2, o.ExitCode);
        Assert.Contains("data.principles not found", o.Stderr);

        config = WriteConfig("align-loss");
        File.WriteAllText(config, File.ReadAllText(config).Replace("engraving: { epochs: 1,", "engraving: { loss: everything, epochs: 1,"));
        o = CliProcess.Run("align", "run", config);
        Assert.Equal(2, o.ExitCode);
        Assert.Contains("value 'everything' is not one of all, responses", o.Stderr);
        Assert.False(Directory.Exists(Path.Combine(Path.GetDirectoryName(config)!, "runs")));

        config = WriteConfig("align-thoughtless");
        var exemplars = Path.Combine(Path.GetDirectoryName(config)!, "exemplars.yaml");
        File.WriteAllText(exemplars, "- user: hi\n  thoughts: rule 1 ( safety ) .\n  answer: hello\n- user: bye\n  answer: bye\n");
        File.WriteAllText(config, File.ReadAllText(config).Replace(Path.Combine(Examples, "testbed", "exemplars.yaml"), exemplars));
        o = CliProcess.Run("align", "run", config);
        Assert.Equal(2, o.ExitCode);
        Assert.Contains("exemplar 2 has no internal thoughts", o.Stderr);

        config = WriteConfig("align-seeds");
        var seeds = Path.Combine(Path.GetDirectoryName(config)!, "seeds.jsonl");
        File.WriteAllText(seeds, "{\"instruction\": \"please cook the cake\"}\n{\"instr\": 3}\n");
        File.WriteAllText(config, File.ReadAllText(config).Replace(Path.Combine(Examples, "testbed", "seed-tasks.jsonl"), seeds));
        o = CliProcess.Run("align", "run", config);
        Assert.Equal(2, o.ExitCode);
        Assert.Contains("seeds.jsonl:2", o.Stderr);

        config = WriteConfig("align-order");
        o = CliProcess.Run("align", "run", config, "--out", Path.Combine(Path.GetDirectoryName(config)!, "run"), "--stage", "answers");
        Assert.Equal(2, o.ExitCode);
        Assert.Contains("needs the output of stage 'prompts'", o.Stderr);
        Assert.False(File.Exists(Path.Combine(Path.GetDirectoryName(config)!, "run", AlignRun.AnswersFile)));
    }
}

using System.Text.Json.Nodes;
using SelfAlign.Data;
using SelfAlign.Models;
using SelfAlign.Pipeline;
using SelfAlign.Tests.Cli;
using Xunit;
using Xunit.Abstractions;

namespace SelfAlign.Tests.Pipeline;

/// <summary>
/// The shipped examples/default-run.yaml, made small from the command line, run end to end as a rehearsal on random weights
/// with a real vocabulary (a SentencePiece and a BPE one): the mechanics of every stage on real tokens.
/// </summary>
[Trait("Category", "Slow")]
public class RehearsalTests(ITestOutputHelper output)
{
    private static readonly string Root = Path.GetDirectoryName(Repository.CacheDirectory)!;

    /// <summary>The overrides that make the default run small (docs/self-align.md, "Rehearsal").</summary>
    internal static string[] SmallRun(string model) =>
    [
        $"base_model={model}", "rehearsal=true", "context_size=4096", "threads=2",
        "self_instruct.requests=2", "self_instruct.sampling.max_new_tokens=24",
        "red_team.topic_rounds=1", "red_team.topic_requests_per_type=1", "red_team.topic_sampling.max_new_tokens=16",
        "red_team.question_requests=1", "red_team.question_sampling.max_new_tokens=24",
        "answers.limit=6", "answers.sampling.max_new_tokens=32",
        "engraving.batch_size=4", "engraving.context_length=256", "engraving.warmup_steps=2", "engraving.lora.rank=4",
        "verbose.sampling.max_new_tokens=32",
        "verbose.training.batch_size=4", "verbose.training.context_length=256", "verbose.training.warmup_steps=2", "verbose.training.lora.rank=4",
    ];

    [Theory]
    [InlineData("llama", "llama-spm")]
    [InlineData("qwen2", "qwen2")]
    public void TheDefaultRunRehearsesEveryStageOnARealVocabulary(string architecture, string vocabulary)
    {
        var dir = Path.Combine(TestModels.Directory, $"rehearsal-{vocabulary}");
        if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
        Directory.CreateDirectory(dir);
        var model = Path.Combine(dir, "random.gguf");
        SyntheticModelBuilder.Write(model, new SyntheticModelBuilder.Options
        {
            Shape = ModelShape.Preset(architecture, "tiny") with { ContextLength = 8192 }, VocabularyFrom = RealVocabularies.Get(vocabulary), Seed = 5,
        });
        var run = Path.Combine(dir, "run");
        var sets = SmallRun(model).SelectMany(s => new[] { "--set", s }).ToList();

        // the plan first: it writes nothing, and its exact counts are what the run then does
        var planned = CliProcess.Run(["align", "plan", Path.Combine(Root, "examples", "default-run.yaml"), .. sets, "--json"]);
        Assert.True(planned.ExitCode == 0, planned.Stderr);
        var plan = JsonNode.Parse(planned.Stdout)!;
        output.WriteLine(plan.ToJsonString());
        var steps = plan["steps"]!.AsArray().ToDictionary(s => s!["step"]!.GetValue<string>(), s => s!);
        Assert.Equal(7, steps.Count);
        Assert.All(steps.Values, s => Assert.True(s!["seconds"]!.GetValue<double>() > 0, s.ToJsonString()));
        Assert.True(plan["calibration"]!["training_seconds_per_window"]!.GetValue<double>() > 0);
        Assert.False(Directory.Exists(Path.Combine(Environment.CurrentDirectory, "runs", "default-run")));

        var result = CliProcess.Run(["align", "run", Path.Combine(Root, "examples", "default-run.yaml"), "--out", run, .. sets]);
        Assert.True(result.ExitCode == 0, result.Stderr);
        long Planned(string step) => steps[step]["requests"]!.GetValue<long>();
        Assert.True(steps["self-instruct"]["exact"]!.GetValue<bool>() && steps["answers"]["exact"]!.GetValue<bool>());
        Assert.Equal(Planned("self-instruct"), Records(run, AlignRun.SelfInstructFile).Count);
        Assert.Equal(Planned("red-team topics"), Records(run, AlignRun.TopicsFile).Count); // one round: exact
        Assert.True(Planned("red-team questions") >= Records(run, AlignRun.QuestionsFile).Count);
        Assert.Equal(Planned("answers"), Records(run, AlignRun.AnswersFile).Count);
        Assert.Equal(Planned("verbose answers"), Records(run, AlignRun.VerboseFile).Count);

        var status = CliProcess.Run("align", "status", run, "--json");
        Assert.Equal(0, status.ExitCode);
        var stages = JsonNode.Parse(status.Stdout)!["stages"]!.AsObject();
        foreach (var (name, stage) in stages)
        {
            output.WriteLine($"{name}: {stage!["counts"]!.ToJsonString()}");
            Assert.Equal("complete", stage["state"]!.GetValue<string>());
            var counts = stage["counts"]!;
            Assert.True(counts["seconds"]!.GetValue<double>() >= 0);
            Assert.True(counts["peak_rss_bytes"]!.GetValue<long>() > 0);
            // the generation stages report their speed; training stages generate nothing
            if (name is "prompts" or "answers" or "verbose")
                Assert.True(counts["tokens_generated"]!.GetValue<long>() > 0 && counts["tokens_per_s"]!.GetValue<double>() > 0, name);
        }
        using var vocab = LlamaModel.Load(model, new ModelLoadOptions { VocabularyOnly = true });
        var templates = PromptTemplates.Load(Path.Combine(Root, "data", "selfalign", "prompts.yaml"));

        // stage 1: the generated lists were parsed and filtered; the seeds carried the rehearsal on
        Assert.Equal(2, Records(run, AlignRun.SelfInstructFile).Count);
        Assert.All(Records(run, AlignRun.SelfInstructFile), r => Assert.True(r["kept"] is JsonArray && r["dropped"] is JsonArray && r["raw"] is not null));
        var prompts = Records(run, AlignRun.PromptsFile);
        Assert.All(prompts, p => Assert.True(p["instruction"]!.GetValue<string>().Length > 0 && p["input"] is not null));
        Assert.Contains(prompts, p => p["source"]!.GetValue<string>() == "seed-task" && p["input"]!.GetValue<string>().Length > 0);

        // stage 2: six prompts answered behind the principles; what the filter would drop says why
        var answers = Records(run, AlignRun.AnswersFile);
        Assert.Equal(6, answers.Count);
        Assert.Equal(prompts.Take(6).Select(p => p["id"]!.GetValue<string>()), answers.Select(a => a["id"]!.GetValue<string>()));
        Assert.All(answers, a => Assert.True(a["answer"] is not null ^ a["dropped"] is not null));
        Assert.All(answers.Where(a => a["would_drop"] is not null), a => Assert.False(string.IsNullOrWhiteSpace(a["answer"]!.GetValue<string>())));
        Assert.All(answers, a => Assert.DoesNotContain("\n\nUser:", a["raw"]!.GetValue<string>()));
        var principleTokens = stages["answers"]!["counts"]!["principles_prompt_tokens"]!.GetValue<int>();
        output.WriteLine($"{vocabulary}: principles prompt {principleTokens} tokens");
        Assert.InRange(principleTokens, 900, 1_800);

        // stage 3: the chat prompt without principles, the turn end after finished answers only, identity records added
        var engraving = Records(run, AlignRun.EngravingDataFile);
        Assert.Equal(answers.Count(a => a["answer"] is not null) + 40, engraving.Count);
        foreach (var a in answers.Where(a => a["answer"] is not null))
        {
            var question = AlignData.QuestionText(a["instruction"]!.GetValue<string>(), AlignData.InputOf(a.AsObject()));
            var record = engraving.Single(r => r["prompt"]!.GetValue<string>() == templates.ChatPrompt.Replace("{question}", question));
            Assert.Equal(a["finished"]!.GetValue<bool>(), record["completion"]!.GetValue<string>().EndsWith(templates.TurnEnd, StringComparison.Ordinal));
        }
        Assert.All(engraving, r => Assert.DoesNotContain("## Rules", r["prompt"]!.GetValue<string>()));

        // stage 4: the verbose answers never hold an invented user turn; both models load with the real vocabulary
        Assert.All(Records(run, AlignRun.VerboseFile).Where(r => r["answer"] is not null), r => Assert.DoesNotContain("### User", r["answer"]!.GetValue<string>()));
        foreach (var file in new[] { AlignRun.EngravedModel, AlignRun.VerboseModel })
        {
            using var trained = LlamaModel.Load(Path.Combine(run, file), new ModelLoadOptions { VocabularyOnly = true });
            Assert.Equal(vocab.Vocabulary.Count, trained.Vocabulary.Count);
        }

        // a rehearsal's data is not training data
        var export = CliProcess.Run("align", "export", run, "--out", Path.Combine(dir, "export.jsonl"));
        Assert.Equal(2, export.ExitCode);
        Assert.Contains("rehearsal", export.Stderr);
    }

    private static List<JsonNode> Records(string run, string file) => JsonlFile.Read(Path.Combine(run, file)).Select(r => (JsonNode)r.Record).ToList();
}

using System.Text.Json.Nodes;
using SelfAlign.Data;
using SelfAlign.Training;

namespace SelfAlign.Pipeline;

/// <summary>
/// Stages 3 and the end of 4 (docs/methods.md, A.3, A.4): the kept answers become prompt/completion records of the plain chat
/// prompt (no principles, no exemplars) + question, and answer + turn end; the base model is fine-tuned on them with the
/// project's trainer (LoRA merged into the stage's model by default), with the loss on the answers only by default. Epoch checkpoints let a rerun continue an interrupted training.
/// </summary>
internal sealed class FineTuneStage(AlignRun run, string basePath, AlignStage stage)
{
    public JsonObject Run(IProgress<AlignProgress>? progress, CancellationToken ct)
    {
        var verbose = stage == AlignStage.Verbose;
        var source = run.PathOf(verbose ? AlignRun.VerboseFile : AlignRun.AnswersFile);
        var dataPath = run.PathOf(verbose ? AlignRun.VerboseDataFile : AlignRun.EngravingDataFile);
        var output = run.PathOf(verbose ? AlignRun.VerboseModel : AlignRun.EngravedModel);
        var cfg = verbose ? run.Config.Verbose.Training : run.Config.Engraving;

        var pairs = JsonlFile.Read(source).Select(r => r.Record).Where(r => r["answer"] is not null)
            .Select(r => (Question: AlignData.QuestionText(r["instruction"]!.GetValue<string>(), AlignData.InputOf(r)), Answer: r["answer"]!.GetValue<string>(),
                Finished: AlignData.Finished(r))).ToList();
        var identity = IdentityRecords.Of(run.Config);
        pairs.AddRange(identity.Select(x => (x.Question, x.Answer, true)));
        if (pairs.Count == identity.Count) throw new InvalidInputException($"{source} has no kept answers to train on");
        var tmp = dataPath + ".tmp";
        File.Delete(tmp);
        using (var w = new JsonlWriter(tmp))
            foreach (var (q, a, finished) in pairs)
                w.Write(TrainingRecord(run.Templates, q, a, finished));
        File.Move(tmp, dataPath, overwrite: true);

        Directory.CreateDirectory(Path.GetDirectoryName(output)!);
        var options = cfg.ToTrainingOptions(run.Config.Seed, run.Config.Threads) with { CheckpointDirectory = output + ".checkpoints", Resume = true };
        // With LoRA the trainer writes the adapter, and the stage's model is base + adapter merged, so later stages and evaluation load one file.
        var adapter = Path.ChangeExtension(output, ".lora.gguf");
        if (options.Lora != null) options = options with { MergedOut = output + ".tmp" };
        var report = new LlamaTrainer(options).Train(basePath, dataPath, options.Lora != null ? adapter + ".tmp" : output + ".tmp",
            new InlineProgress<TrainingProgress>(p => progress?.Report(new AlignProgress(stage, verbose ? "verbose training" : "engraving", p.Step, p.TotalSteps, $"loss {p.Loss:F3}"))),
            cancellationToken: ct);
        if (options.Lora != null) File.Move(adapter + ".tmp", adapter, overwrite: true);
        File.Move(output + ".tmp", output, overwrite: true);
        return new JsonObject
        {
            ["method"] = options.Lora != null ? "lora" : "full", ["trainable_parameters"] = report.TrainableParameters,
            ["adapter"] = options.Lora != null ? adapter : null,
            ["training_records"] = pairs.Count, ["identity_records"] = identity.Count, ["epochs"] = cfg.Epochs, ["initial_loss"] = report.InitialLoss, ["final_loss"] = report.FinalLoss,
            ["training_tokens_per_s"] = Math.Round(report.TokensPerS, 2), ["model"] = output,
        };
    }

    /// <summary>
    /// The plain chat prompt and the answer; the turn end follows only an answer that ended its turn, so an answer cut at the
    /// token limit does not teach the model to stop there.
    /// </summary>
    internal static JsonObject TrainingRecord(PromptTemplates t, string question, string answer, bool finished) => new()
    {
        ["prompt"] = TextTemplate.Fill(t.ChatPrompt, ("question", question)),
        ["completion"] = finished ? answer + t.TurnEnd : answer,
    };
}

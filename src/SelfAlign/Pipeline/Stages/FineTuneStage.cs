using System.Text.Json.Nodes;
using SelfAlign.Data;
using SelfAlign.Training;

namespace SelfAlign.Pipeline;

/// <summary>
/// Stages 3 and the end of 4 (docs/methods.md, A.3, A.4): the kept answers become prompt/completion records of the plain chat
/// prompt (no principles, no exemplars) + question, and answer + turn end; the base model is fine-tuned on them with the
/// project's trainer, by default with the loss on the answers only. Epoch checkpoints let a rerun continue an interrupted training.
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
            .Select(r => (Question: r["instruction"]!.GetValue<string>(), Answer: r["answer"]!.GetValue<string>())).ToList();
        if (pairs.Count == 0) throw new InvalidInputException($"{source} has no kept answers to train on");
        var tmp = dataPath + ".tmp";
        File.Delete(tmp);
        using (var w = new JsonlWriter(tmp))
            foreach (var (q, a) in pairs)
                w.Write(new JsonObject { ["prompt"] = AlignData.Fill(run.Templates.ChatPrompt, ("question", q)), ["completion"] = a + run.Templates.TurnEnd });
        File.Move(tmp, dataPath, overwrite: true);

        Directory.CreateDirectory(Path.GetDirectoryName(output)!);
        var options = cfg.ToTrainingOptions(run.Config.Seed, run.Config.Threads) with { CheckpointDirectory = output + ".checkpoints", Resume = true };
        var report = new LlamaTrainer(options).Train(basePath, dataPath, output + ".tmp",
            new InlineProgress<TrainingProgress>(p => progress?.Report(new AlignProgress(stage, verbose ? "verbose training" : "engraving", p.Step, p.TotalSteps, $"loss {p.Loss:F3}"))),
            cancellationToken: ct);
        File.Move(output + ".tmp", output, overwrite: true);
        return new JsonObject
        {
            ["training_records"] = pairs.Count, ["epochs"] = cfg.Epochs, ["initial_loss"] = report.InitialLoss, ["final_loss"] = report.FinalLoss,
            ["tokens_per_s"] = report.TokensPerS, ["model"] = output,
        };
    }
}

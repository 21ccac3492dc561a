using System.CommandLine;
using SelfAlign.Cli.Output;
using SelfAlign.Generation;
using SelfAlign.Training;

namespace SelfAlign.Cli.Commands;

/// <summary><c>selfalign train</c>: fine-tune a GGUF model in-process.</summary>
internal static class TrainCommand
{
    public static Command Build()
    {
        var d = new TrainingOptions(); // the defaults the options show and start from
        var model = new Option<string>("--model", "-m") { Description = "Base GGUF model", Required = true };
        var data = new Option<string>("--data") { Description = "JSONL of {prompt,response}, {messages} or {text} records", Required = true };
        var output = new Option<string>("--out", "-o") { Description = "Fine-tuned GGUF (F32), or with --lora-rank the GGUF LoRA adapter", Required = true };
        var epochs = new Option<int>("--epochs") { DefaultValueFactory = _ => d.Epochs };
        var lr = new Option<float>("--lr") { Description = "Peak learning rate", DefaultValueFactory = _ => d.LearningRate };
        var warmup = new Option<int>("--warmup") { Description = "Warm-up steps", DefaultValueFactory = _ => d.WarmupSteps };
        var decay = new Option<LearningRateDecay>("--decay") { Description = "Learning-rate decay after warm-up", DefaultValueFactory = _ => d.Decay };
        var optimizer = new Option<OptimizerKind>("--optimizer") { DefaultValueFactory = _ => d.Optimizer };
        var weightDecay = new Option<float>("--weight-decay") { DefaultValueFactory = _ => d.WeightDecay };
        var ctx = new Option<int>("--ctx") { Description = "Tokens per training window", DefaultValueFactory = _ => d.ContextLength };
        var val = new Option<double>("--val-fraction") { Description = "Share of windows held out for validation", DefaultValueFactory = _ => d.ValidationFraction };
        var tensors = EnumOption.Create("--train", "Which tensors train", d.Tensors);
        var loss = EnumOption.Create("--loss", "Tokens the loss is taken over: all, or responses only (prompts are context)", d.Loss);
        var packing = EnumOption.Create("--packing", "reshuffled: records packed in a new order every epoch; fixed: packed once, windows shuffled", d.Packing);
        var wholeRecords = new Option<bool>("--whole-records") { Description = "With --loss responses: never split a record across two windows (the rest of a window is unlearned padding)" };
        var pattern = new Option<string?>("--tensor-pattern") { Description = "Regex over tensor names, with --train pattern" };
        var seed = new Option<ulong>("--seed") { DefaultValueFactory = _ => d.Seed };
        var threads = new Option<int>("--threads") { DefaultValueFactory = _ => d.Threads };
        var format = new Option<string?>("--chat-format") { Description = "YAML turn format for prompt/response and messages records" };
        var checkpoints = new Option<string?>("--checkpoint-dir") { Description = "Epoch checkpoints (default OUT.checkpoints)" };
        var resume = new Option<bool>("--resume") { Description = "Continue from the last epoch checkpoint" };
        var quantize = new Option<string?>("--quantize") { Description = $"Also write a quantised copy ({string.Join(", ", Quantization.Names)})" };
        var loraDefaults = new LoraSettings();
        var loraRank = new Option<int>("--lora-rank") { Description = $"Train a LoRA adapter of this rank instead of every weight (paper: {loraDefaults.Rank})" };
        var loraAlpha = new Option<float>("--lora-alpha") { Description = "LoRA alpha (scale alpha/rank)", DefaultValueFactory = _ => loraDefaults.Alpha };
        var loraModules = new Option<string>("--lora-modules") { Description = $"Comma-separated target modules: {string.Join(", ", LoraModules.PeftNames)}", DefaultValueFactory = _ => string.Join(",", loraDefaults.Modules) };
        var batchSize = new Option<int>("--batch-size") { Description = "Windows per optimizer step, gradients averaged (LoRA)", DefaultValueFactory = _ => d.BatchSize };
        var checkpointEvery = new Option<int>("--checkpoint-every") { Description = "Also checkpoint every N optimizer steps (LoRA; 0 = epoch ends only)", DefaultValueFactory = _ => d.CheckpointEvery };
        var merge = new Option<string?>("--merge") { Description = "Also write base + adapter merged into this GGUF (LoRA)" };
        var peft = new Option<string?>("--peft") { Description = "Also write the adapter in PEFT's format into this directory (LoRA)" };
        var extractRank = new Option<int>("--extract-lora-rank") { Description = "After full fine-tuning, also extract a LoRA adapter of this rank", DefaultValueFactory = _ => d.ExtractLoraRank };
        var polling = new Option<int>("--thread-polling") { Description = "How CPU threads wait: 0 sleep, 100 spin, -1 llama.cpp's own spinning pool", DefaultValueFactory = _ => d.ThreadPolling ?? -1 };
        var fixedThreads = new Option<bool>("--fixed-threads") { Description = "Keep --threads even when other processes use the cores (LoRA adapts by default)" };
        var maxSteps = new Option<int>("--max-steps") { Description = "Stop after this many optimizer steps (0 = no limit)", DefaultValueFactory = _ => d.MaxSteps };
        var json = new Option<bool>("--json") { Description = "Print the summary as one JSON object" };
        var cmd = new Command("train", "Fine-tune a GGUF model through llama.cpp's training API")
        {
            model, data, output, epochs, lr, warmup, decay, optimizer, weightDecay, ctx, val, tensors, loss, packing, wholeRecords, pattern, seed, threads, format,
            checkpoints, resume, quantize, loraRank, loraAlpha, loraModules, batchSize, checkpointEvery, merge, peft, extractRank, maxSteps, polling, fixedThreads, json,
        };
        cmd.SetAction((p, ct) => Task.Run(() =>
        {
            var options = new TrainingOptions
            {
                Epochs = p.GetValue(epochs), LearningRate = p.GetValue(lr), WarmupSteps = p.GetValue(warmup), Decay = p.GetValue(decay),
                Optimizer = p.GetValue(optimizer), WeightDecay = p.GetValue(weightDecay), ContextLength = p.GetValue(ctx),
                ValidationFraction = p.GetValue(val), Tensors = p.GetValue(tensors), Loss = p.GetValue(loss), Packing = p.GetValue(packing), WholeRecords = p.GetValue(wholeRecords), TensorPattern = p.GetValue(pattern), Seed = p.GetValue(seed),
                Threads = p.GetValue(threads), CheckpointDirectory = p.GetValue(checkpoints), Resume = p.GetValue(resume),
                Quantize = p.GetValue(quantize), ExtractLoraRank = p.GetValue(extractRank),
                Lora = p.GetValue(loraRank) is var rank && rank != 0 || p.GetResult(loraAlpha) is { Implicit: false } || p.GetResult(loraModules) is { Implicit: false }
                    ? new LoraSettings
                    {
                        Rank = rank == 0 ? loraDefaults.Rank : rank, Alpha = p.GetValue(loraAlpha),
                        Modules = [.. p.GetValue(loraModules)!.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)],
                    }
                    : null,
                MaxSteps = p.GetValue(maxSteps), ThreadPolling = p.GetValue(polling) is var poll && poll >= 0 ? poll : null, AdaptThreads = !p.GetValue(fixedThreads), BatchSize = p.GetValue(batchSize), CheckpointEvery = p.GetValue(checkpointEvery), MergedOut = p.GetValue(merge), PeftOut = p.GetValue(peft),
                Format = p.GetValue(format) is { } f ? TurnFormat.Load(f) : TurnFormat.Plain,
            };
            var trainer = new LlamaTrainer(options);
            ProgressDisplay? bar = null;
            try
            {
                var report = trainer.Train(p.GetValue(model)!, p.GetValue(data)!, p.GetValue(output)!, new InlineProgress<TrainingProgress>(progress =>
                {
                    bar ??= new ProgressDisplay("train", progress.TotalSteps);
                    bar.Report(progress.Step, $"epoch {progress.Epoch}/{progress.Epochs} loss {progress.Loss:F3} {progress.TokensPerS:F0} tok/s");
                }), message => Console.Error.WriteLine($"train: {message}"), ct);
                bar?.Dispose();
                bar = null;
                if (p.GetValue(json)) JsonOutput.Print(report);
                else
                {
                    Console.WriteLine($"loss {report.InitialLoss:F3} -> {report.FinalLoss:F3}" + (report.FinalValLoss is { } v ? $" (validation {v:F3})" : ""));
                    Console.WriteLine($"{report.TokensTrained:N0} tokens at {report.TokensPerS:F0} tokens/s, peak {report.PeakRssMb:F0} MB");
                    if (report.RecordsSplit > 0 || report.TokensDropped > 0)
                        Console.WriteLine($"{report.RecordsSplit} of {report.Records} records span two windows ({report.RecordsLongerThanWindow} are longer than a window); " +
                                          $"{report.TokensDropped} tokens after the last window were not trained");
                    if (report.PaddingTokens > 0)
                        Console.WriteLine($"{report.PaddingTokens} padding tokens ({100.0 * report.PaddingTokens / (report.Windows * options.ContextLength):F1}% of the first epoch's windows) keep every record in one window");
                    if (report.UntrainableSelected.Count > 0)
                        Console.WriteLine($"not trainable in this llama.cpp release, left unchanged: {string.Join(", ", report.UntrainableSelected.Take(6))}{(report.UntrainableSelected.Count > 6 ? ", ..." : "")}");
                    Console.WriteLine($"{report.TrainableParameters:N0} trainable parameters, {report.Steps} optimizer steps");
                    Console.WriteLine($"wrote {report.Out}" + (report.Quantized is { } q ? $", {q}" : "") +
                                      (report.LoraRelativeError is { } e ? $", {report.Lora} (relative error {e:E2})" : "") +
                                      (report.Merged is { } m ? $", {m}" : "") + (report.Peft is { } pe ? $", {pe}/" : ""));
                }
                return 0;
            }
            finally { bar?.Dispose(); }
        }, CancellationToken.None));
        return cmd;
    }
}

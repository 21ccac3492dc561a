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
        var output = new Option<string>("--out", "-o") { Description = "Fine-tuned GGUF (F32)", Required = true };
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
        var pattern = new Option<string?>("--tensor-pattern") { Description = "Regex over tensor names, with --train pattern" };
        var seed = new Option<ulong>("--seed") { DefaultValueFactory = _ => d.Seed };
        var threads = new Option<int>("--threads") { DefaultValueFactory = _ => d.Threads };
        var format = new Option<string?>("--chat-format") { Description = "YAML turn format for prompt/response and messages records" };
        var checkpoints = new Option<string?>("--checkpoint-dir") { Description = "Epoch checkpoints (default OUT.checkpoints)" };
        var resume = new Option<bool>("--resume") { Description = "Continue from the last epoch checkpoint" };
        var quantize = new Option<string?>("--quantize") { Description = $"Also write a quantised copy ({string.Join(", ", Quantization.Names)})" };
        var loraRank = new Option<int>("--lora-rank") { Description = "Also extract a LoRA adapter of this rank", DefaultValueFactory = _ => d.LoraRank };
        var json = new Option<bool>("--json") { Description = "Print the summary as one JSON object" };
        var cmd = new Command("train", "Fine-tune a GGUF model through llama.cpp's training API")
        {
            model, data, output, epochs, lr, warmup, decay, optimizer, weightDecay, ctx, val, tensors, loss, packing, pattern, seed, threads, format,
            checkpoints, resume, quantize, loraRank, json,
        };
        cmd.SetAction((p, ct) => Task.Run(() =>
        {
            var options = new TrainingOptions
            {
                Epochs = p.GetValue(epochs), LearningRate = p.GetValue(lr), WarmupSteps = p.GetValue(warmup), Decay = p.GetValue(decay),
                Optimizer = p.GetValue(optimizer), WeightDecay = p.GetValue(weightDecay), ContextLength = p.GetValue(ctx),
                ValidationFraction = p.GetValue(val), Tensors = p.GetValue(tensors), Loss = p.GetValue(loss), Packing = p.GetValue(packing), TensorPattern = p.GetValue(pattern), Seed = p.GetValue(seed),
                Threads = p.GetValue(threads), CheckpointDirectory = p.GetValue(checkpoints), Resume = p.GetValue(resume),
                Quantize = p.GetValue(quantize), LoraRank = p.GetValue(loraRank),
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
                    if (report.UntrainableSelected.Count > 0)
                        Console.WriteLine($"not trainable in this llama.cpp release, left unchanged: {string.Join(", ", report.UntrainableSelected.Take(6))}{(report.UntrainableSelected.Count > 6 ? ", ..." : "")}");
                    Console.WriteLine($"wrote {report.Out}" + (report.Quantized is { } q ? $", {q}" : "") + (report.Lora is { } l ? $", {l} (relative error {report.LoraRelativeError:E2})" : ""));
                }
                return 0;
            }
            finally { bar?.Dispose(); }
        }, CancellationToken.None));
        return cmd;
    }
}

using SelfAlign.Generation;
using SelfAlign.Models;
using SelfAlign.Training;
using Xunit;

namespace SelfAlign.Tests.Training;

[Trait("Category", "Slow")]
public class LlamaTrainerTests
{
    private static TrainingOptions Quick => new() { ContextLength = 256, LearningRate = 2e-3f, Seed = 3, WarmupSteps = 2, AdaptThreads = false };

    /// <summary>
    /// The decisive test of the gradient trap: two SGD steps with a tiny learning rate on the same window must
    /// move the weights by the same amount. Without zeroing, this build moves them about twice as far the
    /// second time; when a llama.cpp upgrade fixes that, the second half of this test says so.
    /// </summary>
    [Fact]
    public void TwoStepsOnTheSameWindowChangeWeightsEqually()
    {
        double Ratio(bool zero)
        {
            var dir = TrainingFixture.Dir($"two-steps-{zero}");
            var snapshots = new List<float[]>();
            var trainer = new LlamaTrainer(Quick with { Optimizer = OptimizerKind.Sgd, LearningRate = 1e-4f, WarmupSteps = 0, Decay = LearningRateDecay.Constant, MaxSteps = 2 })
            {
                TrainWindowsOverride = w => [w[0], w[0]],
                ZeroGradients = zero,
                StepObserver = (step, after, tensors) =>
                {
                    if (step == 0 && !after || after) snapshots.Add(TrainingFixture.Read(tensors.First(t => t.Name == "blk.1.ffn_down.weight").Tensor));
                },
            };
            trainer.Train(TestModels.TinyLlama, TrainingFixture.SecretCodeData(dir), Path.Combine(dir, "out.gguf"));
            Assert.Equal(3, snapshots.Count);
            return TrainingFixture.Norm(snapshots[2], snapshots[1]) / TrainingFixture.Norm(snapshots[1], snapshots[0]);
        }

        var fixedRatio = Ratio(zero: true);
        Assert.InRange(fixedRatio, 0.95, 1.05);
        var bugRatio = Ratio(zero: false);
        Assert.True(bugRatio > 1.8, $"without zeroing the second step moved {bugRatio:F2}x the first: has llama.cpp fixed gradient accumulation?");
    }

    /// <summary>
    /// The response-only loss overwrites the label rows of prompt positions with the model's own distribution, which
    /// gives them no gradient: one SGD step on records whose completions are empty must leave the weights where they
    /// were, while the same step with every token learned, or with real completions, moves them.
    /// </summary>
    [Fact]
    public void PromptTokensGetNoGradientWhenOnlyResponsesAreLearned()
    {
        double Change(LossTokens loss, string completion)
        {
            var dir = TrainingFixture.Dir($"response-loss-{loss}-{completion.Length}");
            var data = Path.Combine(dir, "data.jsonl");
            File.WriteAllLines(data, Enumerable.Range(0, 80).Select(i => System.Text.Json.JsonSerializer.Serialize(new
            {
                prompt = $"note {i % 7}: the secret code is", completion,
            })));
            var snapshots = new List<float[]>();
            var trainer = new LlamaTrainer(Quick with { Optimizer = OptimizerKind.Sgd, LearningRate = 1e-2f, WarmupSteps = 0, Decay = LearningRateDecay.Constant, MaxSteps = 1, Loss = loss })
            {
                StepObserver = (_, _, tensors) => snapshots.Add(TrainingFixture.Read(tensors.First(t => t.Name == "blk.1.ffn_down.weight").Tensor)),
            };
            trainer.Train(TestModels.TinyLlama, data, Path.Combine(dir, "out.gguf"));
            Assert.Equal(2, snapshots.Count);
            return TrainingFixture.Norm(snapshots[1], snapshots[0]);
        }

        var all = Change(LossTokens.All, "");
        Assert.True(all > 0);
        Assert.True(Change(LossTokens.Responses, "") < all * 1e-3, "prompt positions were trained");
        Assert.True(Change(LossTokens.Responses, " alpha beta gamma.") > all * 0.05, "response positions were not trained");
    }

    [Fact]
    public async Task LossHalvesAndTheModelLearnsAContinuation()
    {
        var dir = TrainingFixture.Dir("learns");
        var output = Path.Combine(dir, "out.gguf");
        var report = new LlamaTrainer(Quick with { Epochs = 40, LearningRate = 5e-3f, ValidationFraction = 0.2 }).Train(TestModels.TinyLlama, TrainingFixture.SecretCodeData(dir), output);

        Assert.True(report.FinalLoss <= report.InitialLoss / 2, $"loss {report.InitialLoss:F3} -> {report.FinalLoss:F3}");
        Assert.NotNull(report.FinalValLoss);
        Assert.True(report.FinalValLoss < report.InitialLoss / 2);
        Assert.True(report.TokensTrained > 0 && report.TokensPerS > 0);

        var request = new GenerationRequest { Prompt = "note red 4: the secret code is", MaxNewTokens = 24, StopAtEndOfGeneration = false };
        async Task<string> Answer(string path)
        {
            using var model = LlamaModel.Load(path);
            using var engine = new GenerationEngine(model, new EngineOptions { Context = new ContextOptions { ContextSize = 256, MaxSequences = 1 } });
            return (await engine.GenerateAsync(request)).Text;
        }
        Assert.DoesNotContain("alpha beta", await Answer(TestModels.TinyLlama));
        Assert.StartsWith(" alpha beta gamma", await Answer(output));
    }

    [Fact]
    public void AttentionOnlyTrainingLeavesEveryOtherTensorBitIdentical()
    {
        var dir = TrainingFixture.Dir("attention-only");
        var output = Path.Combine(dir, "out.gguf");
        var report = new LlamaTrainer(Quick with { Tensors = TensorSelection.Attention }).Train(TestModels.TinyLlama, TrainingFixture.SecretCodeData(dir), output);

        var before = TrainingFixture.TensorBytes(TestModels.TinyLlama);
        var after = TrainingFixture.TensorBytes(output);
        Assert.Equal(before.Keys.Order(), after.Keys.Order());
        foreach (var name in before.Keys)
        {
            var trained = report.TrainedTensors.Contains(name);
            Assert.Equal(trained, name.Contains(".attn_") && !name.Contains("attn_k") && !name.Contains("attn_v"));
            if (trained) Assert.NotEqual(before[name], after[name]);
            else Assert.Equal(before[name], after[name]);
        }
        Assert.Contains("blk.0.attn_k.weight", report.UntrainableSelected);
    }

    [Fact]
    public void AStopMidEpochEndsAfterTheCurrentStepAndResumesToTheUninterruptedWeights()
    {
        var options = Quick with { Epochs = 3, ValidationFraction = 0.1 };
        var dir = TrainingFixture.Dir("resume");
        var data = TrainingFixture.SecretCodeData(dir);
        var whole = Path.Combine(dir, "whole.gguf");
        new LlamaTrainer(options).Train(TestModels.TinyLlama, data, whole);

        var resumed = Path.Combine(dir, "resumed.gguf");
        using var stop = new CancellationTokenSource();
        var stepsAfterStop = new List<int>();
        Assert.ThrowsAny<OperationCanceledException>(() => new LlamaTrainer(options).Train(TestModels.TinyLlama, data, resumed,
            new InlineProgress<TrainingProgress>(p =>
            {
                if (stop.IsCancellationRequested) stepsAfterStop.Add(p.Step);
                if (p.Epoch == 2 && p.Step == p.TotalSteps / 2) stop.Cancel();
            }), cancellationToken: stop.Token));
        Assert.Empty(stepsAfterStop);
        Assert.False(File.Exists(resumed));
        var report = new LlamaTrainer(options with { Resume = true }).Train(TestModels.TinyLlama, data, resumed);

        Assert.Equal(1, report.ResumedFromEpoch);
        Assert.Equal(3, report.Epochs.Count);
        var a = TrainingFixture.TensorBytes(whole);
        var b = TrainingFixture.TensorBytes(resumed);
        foreach (var name in a.Keys) Assert.Equal(a[name], b[name]);
    }

    [Fact]
    public void ResumeRefusesAChangedRunAndQuantisedCopiesLoad()
    {
        var dir = TrainingFixture.Dir("resume-changed");
        var data = TrainingFixture.SecretCodeData(dir);
        var output = Path.Combine(dir, "out.gguf");
        var report = new LlamaTrainer(Quick with { Quantize = "q8_0" }).Train(TestModels.TinyLlama, data, output);
        Assert.Contains(GgufFile.Read(report.Quantized!).Tensors, t => t.Type == GgmlType.Q8_0);
        using (var quantised = LlamaModel.Load(report.Quantized!)) Assert.Equal(GgufFile.Read(output).Tensors.Count, quantised.Gguf.Tensors.Count);
        Assert.True(report.EstimatedMemoryMb > 0);
        var e = Assert.Throws<InvalidInputException>(() => new LlamaTrainer(Quick with { LearningRate = 1e-3f, Resume = true }).Train(TestModels.TinyLlama, data, output));
        Assert.Contains("different run", e.Message);
    }

    [Fact]
    public async Task ExtractedLoraAppliedToTheBaseReproducesTheFineTunedLogits()
    {
        var dir = TrainingFixture.Dir("lora");
        var output = Path.Combine(dir, "out.gguf");
        var report = new LlamaTrainer(Quick with
        {
            Epochs = 3, Tensors = TensorSelection.Pattern, TensorPattern = @"(attn_q|attn_output|ffn_up|ffn_down|ffn_gate)\.weight", ExtractLoraRank = 64,
        }).Train(TestModels.TinyLlama, TrainingFixture.SecretCodeData(dir), output);
        Assert.NotNull(report.Lora);
        Assert.InRange(report.LoraRelativeError!.Value, 0, 1e-3);

        float[] Logits(string modelPath, string? adapter)
        {
            using var model = LlamaModel.Load(modelPath);
            using var lora = adapter is null ? null : LoraAdapter.Load(model, adapter);
            return Decoding.LastLogits(model, "note blue 2: the secret code is", lora);
        }
        var tuned = Logits(output, null);
        var viaLora = Logits(TestModels.TinyLlama, report.Lora);
        var baseLogits = Logits(TestModels.TinyLlama, null);
        var loraGap = TrainingFixture.Norm(tuned, viaLora) / TrainingFixture.Norm(tuned);
        var baseGap = TrainingFixture.Norm(tuned, baseLogits) / TrainingFixture.Norm(tuned);
        Assert.True(baseGap > 0.01, $"training changed the logits by only {baseGap:E2}");
        Assert.True(loraGap < 1e-3, $"base + LoRA is {loraGap:E2} from the fine-tune (reported weight error {report.LoraRelativeError:E2})");

        // A lower rank loses information, and says so.
        var low = Path.Combine(dir, "low.lora.gguf");
        var error = LoraExtraction.Write(TestModels.TinyLlama, output, low, 1, report.TrainedTensors.ToList());
        Assert.True(error > report.LoraRelativeError!.Value);
        await Task.CompletedTask;
    }

    [Fact]
    public void SchedulesWarmUpAndDecay()
    {
        var linear = new LearningRateSchedule(1f, 10, 110, LearningRateDecay.Linear);
        Assert.True(linear.At(0) < linear.At(5) && linear.At(5) < linear.At(10));
        Assert.Equal(1f, linear.At(10), 3);
        Assert.Equal(0.5f, linear.At(60), 3);
        var cosine = new LearningRateSchedule(1f, 0, 100, LearningRateDecay.Cosine);
        Assert.Equal(0.5f, cosine.At(50), 3);
        Assert.Equal(1f, new LearningRateSchedule(1f, 0, 100, LearningRateDecay.Constant).At(99));
    }
}

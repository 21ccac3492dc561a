using SelfAlign.Generation;
using SelfAlign.Models;
using SelfAlign.Training;
using Xunit;
using Xunit.Abstractions;

namespace SelfAlign.Tests.Training;

[Trait("Category", "Slow")]
public class LoraTrainingTests(ITestOutputHelper output)
{
    private static TrainingOptions Quick => new()
    {
        ContextLength = 256, LearningRate = 1e-2f, Seed = 3, WarmupSteps = 0, Decay = LearningRateDecay.Constant, CheckpointEvery = 0, AdaptThreads = false,
        Lora = new LoraSettings { Rank = 4, Alpha = 8, Modules = ["q_proj", "k_proj", "v_proj", "o_proj", "up_proj"] },
    };

    private static float[] Logits(LlamaModel model, LoraAdapter? adapter, string text) => Decoding.LastLogits(model, text, adapter);

    [Fact]
    public void LoraLearnsLeavesTheBaseBitIdenticalAndItsFileReproducesTheTrainingLogits()
    {
        var dir = TrainingFixture.Dir("lora-learns");
        var adapterPath = Path.Combine(dir, "adapter.gguf");
        const string probe = "note blue 2: the secret code is";
        var baseBytes = TrainingFixture.TensorBytes(TestModels.TinyLlama);
        float[]? live = null;
        var trainer = new LlamaTrainer(Quick with { Epochs = 12, ValidationFraction = 0.2 })
        {
            LoraTrainingFinished = (model, adapter) =>
            {
                foreach (var (name, bytes) in baseBytes) Assert.Equal(bytes, model.ReadTensor(name));
                live = Logits(model, adapter, probe);
            },
        };
        var report = trainer.Train(TestModels.TinyLlama, TrainingFixture.SecretCodeData(dir), adapterPath);
        output.WriteLine($"loss {report.InitialLoss:F3} -> {report.FinalLoss:F3} (val {report.FinalValLoss:F3}), {report.TrainableParameters} parameters, " +
                         $"{report.TokensPerS:F0} tok/s, untrainable: {string.Join(", ", report.UntrainableSelected)}");

        Assert.True(report.FinalLoss < report.InitialLoss / 2, $"loss {report.InitialLoss:F3} -> {report.FinalLoss:F3}");
        Assert.True(report.FinalValLoss < report.InitialLoss / 2);
        var model = GgufFile.Read(TestModels.TinyLlama);
        var perLayer = model.Tensors.Where(t => LoraModules.Parse(t.Name) is { } p && Quick.Lora!.Modules.Contains(p.Module))
            .Sum(t => 4L * (t.Shape[0] + t.Shape[1]));
        Assert.Equal(perLayer, report.TrainableParameters);

        using var reloaded = LlamaModel.Load(TestModels.TinyLlama);
        using var saved = LoraAdapter.Load(reloaded, adapterPath);
        var fromFile = Logits(reloaded, saved, probe);
        var gap = TrainingFixture.Norm(live!, fromFile) / TrainingFixture.Norm(live!);
        Assert.True(gap < 1e-4, $"the saved adapter's logits are {gap:E2} from the training context's");
        var baseGap = TrainingFixture.Norm(live!, Logits(reloaded, null, probe)) / TrainingFixture.Norm(live!);
        Assert.True(baseGap > 0.01, $"the adapter changed the logits by only {baseGap:E2}");
    }

    /// <summary>Mean cross-entropy of a window (what ggml-opt minimises) with the adapter <paramref name="weights"/> applied.</summary>
    private static double WindowLoss(LlamaModel model, LoraWeights weights, int[] tokens, string path)
    {
        weights.Write(path);
        using var adapter = LoraAdapter.Load(model, path);
        var n = tokens.Length - 1;
        using var ctx = new LlamaContext(model, new ContextOptions { ContextSize = n, BatchSize = n, MaxSequences = 1, FlashAttention = false, F32KvCache = true });
        ctx.SetLoraAdapters([(adapter, 1f)]);
        using var batch = new TokenBatch(n);
        for (var i = 0; i < n; i++) batch.Add(tokens[i], i, 0, true);
        ctx.Decode(batch);
        double sum = 0;
        for (var i = 0; i < n; i++)
        {
            var logits = ctx.GetLogits(i);
            var max = logits.ToArray().Max();
            double z = 0;
            foreach (var l in logits) z += Math.Exp(l - max);
            sum += Math.Log(z) + max - logits[tokens[i + 1]];
        }
        return sum / n;
    }

    /// <summary>
    /// One SGD step moves B by -lr x gradient; central differences of the window's loss estimate that gradient. In the
    /// last layer they agree within 2%. Below it, this llama.cpp build's gradient lacks the paths through later layers'
    /// K and V (they pass through the KV cache, which has no backward pass), so lower layers get a partial gradient:
    /// the second half of this test says so, and will fail when an upgrade fixes it.
    /// </summary>
    [Fact]
    public void OneSgdStepMovesTheAdapterAsTheFiniteDifferenceGradientPredicts()
    {
        var dir = TrainingFixture.Dir("lora-fd");
        const float lr = 1e-3f;
        var options = Quick with { Optimizer = OptimizerKind.Sgd, LearningRate = lr, MaxSteps = 1, Lora = Quick.Lora! with { Modules = ["up_proj", "o_proj"] } };
        int[]? window = null;
        var trainer = new LlamaTrainer(options) { TrainWindowsOverride = w => { window = w[0].Tokens; return [w[0]]; } };
        var adapterPath = Path.Combine(dir, "adapter.gguf");
        trainer.Train(TestModels.TinyLlama, TrainingFixture.SecretCodeData(dir), adapterPath);

        var start = LoraWeights.Create(GgufFile.Read(TestModels.TinyLlama), options.Lora!, options.Seed);
        var stepped = LoraWeights.Read(adapterPath);
        using var model = LlamaModel.Load(TestModels.TinyLlama);
        var probe = Path.Combine(dir, "probe.gguf");
        const float eps = 1e-3f;
        var worstLast = 0.0;
        var worstFirst = 0.0;
        for (var m = 0; m < start.Matrices.Count; m++)
        {
            // B starts at zero, so the first step moves B only (A's gradient is B-weighted): check B's largest moves.
            Assert.Equal(start.Matrices[m].A, stepped.Matrices[m].A);
            var predicted = stepped.Matrices[m].B.Select(b => -b / lr).ToArray();
            foreach (var j in Enumerable.Range(0, predicted.Length).OrderByDescending(j => Math.Abs(predicted[j])).Take(3))
            {
                var b = start.Matrices[m].B;
                b[j] = eps;
                var up = WindowLoss(model, start, window!, probe);
                b[j] = -eps;
                var down = WindowLoss(model, start, window!, probe);
                b[j] = 0;
                var fd = (up - down) / (2 * eps);
                var gap = Math.Abs(fd - predicted[j]) / Math.Abs(fd);
                output.WriteLine($"{start.Matrices[m].Tensor}[{j}]: step says {predicted[j]:E4}, finite difference {fd:E4}");
                if (start.Matrices[m].Tensor.StartsWith("blk.1.", StringComparison.Ordinal)) worstLast = Math.Max(worstLast, gap);
                else worstFirst = Math.Max(worstFirst, gap);
            }
        }
        Assert.True(worstLast < 0.02, $"last layer: the step is {worstLast:P1} from the finite-difference gradient");
        Assert.True(worstFirst > 0.05, $"layer 0 now matches within {worstFirst:P1}: has llama.cpp added the gradient through K and V?");
    }

    [Fact]
    public void KAccumulatedWindowsEqualOneStepOnTheirMeanGradient()
    {
        var dir = TrainingFixture.Dir("lora-accumulate");
        var data = TrainingFixture.SecretCodeData(dir);
        var options = Quick with { Optimizer = OptimizerKind.Sgd, LearningRate = 1e-3f, MaxSteps = 1 };
        float[] StepOf(int batch, Func<List<TrainingWindow>, List<TrainingWindow>> pick, string name)
        {
            var path = Path.Combine(dir, name + ".gguf");
            new LlamaTrainer(options with { BatchSize = batch }) { TrainWindowsOverride = pick }.Train(TestModels.TinyLlama, data, path);
            return LoraWeights.Read(path).Matrices.SelectMany(m => m.B).ToArray();
        }
        var both = StepOf(3, w => [w[0], w[1], w[2]], "both");
        var singles = new[] { StepOf(1, w => [w[0]], "first"), StepOf(1, w => [w[1]], "second"), StepOf(1, w => [w[2]], "third") };
        var mean = both.Select((_, i) => singles.Average(s => s[i])).ToArray();
        var gap = TrainingFixture.Norm(both, mean) / TrainingFixture.Norm(mean);
        var spread = TrainingFixture.Norm(singles[0], mean) / TrainingFixture.Norm(mean);
        output.WriteLine($"accumulated vs mean of single steps: relative {gap:E2}; one window alone differs by {spread:E2}");
        Assert.True(gap < 1e-4, $"accumulated step is {gap:E2} from the mean of the single steps");
        Assert.True(spread > 1e-2, "the windows' gradients are too alike for this test to tell anything");
    }

    [Fact]
    public void ResumeFromAMidEpochCheckpointEqualsAnUninterruptedRun()
    {
        var options = Quick with { Epochs = 2, BatchSize = 2, CheckpointEvery = 3, LearningRate = 5e-3f, WarmupSteps = 2, Decay = LearningRateDecay.Linear };
        var dir = TrainingFixture.Dir("lora-resume");
        var data = TrainingFixture.SecretCodeData(dir, records: 200);
        var whole = Path.Combine(dir, "whole.gguf");
        var wholeReport = new LlamaTrainer(options).Train(TestModels.TinyLlama, data, whole);

        var resumed = Path.Combine(dir, "resumed.gguf");
        using var stop = new CancellationTokenSource();
        var stopAt = wholeReport.Steps / 2 + 1; // not on a checkpoint step, and inside the first epoch or early in the second
        Assert.ThrowsAny<OperationCanceledException>(() => new LlamaTrainer(options).Train(TestModels.TinyLlama, data, resumed,
            new InlineProgress<TrainingProgress>(p => { if (p.Step == stopAt) stop.Cancel(); }), cancellationToken: stop.Token));
        Assert.False(File.Exists(resumed));
        var report = new LlamaTrainer(options with { Resume = true }).Train(TestModels.TinyLlama, data, resumed);

        output.WriteLine($"{wholeReport.Steps} steps; stopped after {stopAt}; losses {string.Join(", ", wholeReport.Epochs.Select(e => e.TrainLoss.ToString("F4")))} vs {string.Join(", ", report.Epochs.Select(e => e.TrainLoss.ToString("F4")))}");
        Assert.Equal(wholeReport.Steps, report.Steps);
        Assert.Equal(File.ReadAllBytes(whole), File.ReadAllBytes(resumed));
        Assert.Equal(wholeReport.Epochs.Select(e => e.TrainLoss), report.Epochs.Select(e => e.TrainLoss));
    }

    [Theory]
    [InlineData("llama")]
    [InlineData("qwen2")]
    public void PeftFilesReadBackAndConvertToTheSameAdapterAndTheMergedModelMatchesBasePlusAdapter(string arch)
    {
        var baseModel = arch == "llama" ? TestModels.TinyLlama : TestModels.TinyQwen2;
        var dir = TrainingFixture.Dir($"lora-peft-{arch}");
        var adapterPath = Path.Combine(dir, "adapter.gguf");
        var peft = Path.Combine(dir, "peft");
        var merged = Path.Combine(dir, "merged.gguf");
        new LlamaTrainer(Quick with { Epochs = 2, PeftOut = peft, MergedOut = merged }).Train(baseModel, TrainingFixture.SecretCodeData(dir), adapterPath);

        var tensors = PeftAdapter.ReadSafetensors(Path.Combine(peft, PeftAdapter.WeightsFile));
        var trained = LoraWeights.Read(adapterPath);
        Assert.Equal(2 * trained.Matrices.Count, tensors.Count);
        var q = tensors["base_model.model.model.layers.1.self_attn.q_proj.lora_B.weight"];
        var qIn = GgufFile.Read(baseModel).Tensors.First(t => t.Name == "blk.1.attn_q.weight");
        Assert.Equal([qIn.Shape[1], 4L], q.Shape);
        Assert.Equal([4L, qIn.Shape[0]], tensors["base_model.model.model.layers.1.mlp.up_proj.lora_A.weight"].Shape);
        var config = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(Path.Combine(peft, PeftAdapter.ConfigFile)))!;
        Assert.Equal(4, config["r"]!.GetValue<int>());
        Assert.Equal(8f, config["lora_alpha"]!.GetValue<float>());

        var back = Path.Combine(dir, "back.gguf");
        PeftAdapter.ToGguf(peft, baseModel, back);
        var roundTrip = LoraWeights.Read(back);
        Assert.Equal(trained.Alpha, roundTrip.Alpha);
        Assert.Equal(trained.Matrices.Select(m => m.Tensor).Order(), roundTrip.Matrices.Select(m => m.Tensor).Order());
        foreach (var m in trained.Matrices)
        {
            var r = roundTrip.Matrices.Single(x => x.Tensor == m.Tensor);
            Assert.Equal(m.A, r.A);
            Assert.Equal(m.B, r.B);
        }
        if (arch == "llama")
        {
            // llama's q rows are stored permuted in GGUF: the PEFT copy of B differs unless the permutation is undone.
            var gguf = trained.Matrices.Single(m => m.Tensor == "blk.1.attn_q.weight").B;
            Assert.NotEqual(gguf, q.Data);
            Assert.Equal(gguf.Order(), q.Data.Order());
        }

        using var model = LlamaModel.Load(baseModel);
        using var adapter = LoraAdapter.Load(model, adapterPath);
        using var mergedModel = LlamaModel.Load(merged);
        var viaAdapter = Logits(model, adapter, "note gold 3: the secret code is");
        var viaMerge = Logits(mergedModel, null, "note gold 3: the secret code is");
        var gap = TrainingFixture.Norm(viaAdapter, viaMerge) / TrainingFixture.Norm(viaAdapter);
        Assert.True(gap < 1e-4, $"merged model is {gap:E2} from base + adapter");
    }

    /// <summary>BF16 and Q4_0 weights abort ggml's scheduler in a backward pass: they are converted, never handed to it.</summary>
    [Theory]
    [InlineData("bf16", GgmlType.BF16, true)]
    [InlineData("q4_0", GgmlType.Q4_0, true)]
    [InlineData("q8_0", GgmlType.Q8_0, false)]
    [InlineData("f16", GgmlType.F16, false)]
    public void BaseTypesTheBackwardPassCannotHandleAreConvertedAndTheOthersTrainAsTheyAre(string type, GgmlType stored, bool converted)
    {
        var dir = TrainingFixture.Dir($"lora-type-{type}");
        var model = Path.Combine(dir, $"base-{type}.gguf");
        Quantization.Write(TestModels.TinyLlama, model, type, 2);
        Assert.Contains(GgufFile.Read(model).Tensors, t => t.Type == stored);
        var log = new List<string>();
        var report = new LlamaTrainer(Quick with { MaxSteps = 2 }).Train(model, TrainingFixture.SecretCodeData(dir, records: 40), Path.Combine(dir, "a.gguf"), log: log.Add);
        Assert.Equal(2, report.Steps);
        Assert.True(double.IsFinite(report.FinalLoss));
        Assert.Equal(converted, log.Any(l => l.Contains($"does not handle {stored}", StringComparison.Ordinal) && l.Contains("F32 copy", StringComparison.Ordinal)));
        Assert.Equal(converted, File.Exists(Path.Combine(dir, "a.gguf.checkpoints", "base-f32.gguf")));
    }

    [Fact]
    public void BadLoraSettingsAreRefusedBeforeTraining()
    {
        var dir = TrainingFixture.Dir("lora-bad");
        var data = TrainingFixture.SecretCodeData(dir, records: 20);
        var outPath = Path.Combine(dir, "out.gguf");
        string Refusal(TrainingOptions o) => Assert.Throws<InvalidInputException>(() => new LlamaTrainer(o).Train(TestModels.TinyLlama, data, outPath)).Message;

        Assert.Contains("rank must be at least 1", Refusal(Quick with { Lora = Quick.Lora! with { Rank = 0 } }));
        Assert.Contains("above the smaller side (64)", Refusal(Quick with { Lora = Quick.Lora! with { Rank = 65 } }));
        Assert.Contains("unknown LoRA module 'qproj'; choose from q_proj", Refusal(Quick with { Lora = Quick.Lora! with { Modules = ["qproj"] } }));
        Assert.Contains("BatchSize must be at least 1", Refusal(Quick with { BatchSize = 0 }));
        Assert.Contains("BatchSize above 1 needs LoRA", Refusal(new TrainingOptions { BatchSize = 4 }));

        var qwenAdapter = Path.Combine(dir, "qwen.gguf");
        new LlamaTrainer(Quick with { MaxSteps = 1 }).Train(TestModels.TinyQwen2, data, qwenAdapter);
        var wide = LlamaModel.Load(TestModels.WideLlama);
        using (wide) Assert.Throws<ModelLoadException>(() => LoraAdapter.Load(wide, qwenAdapter));
        Assert.False(File.Exists(outPath));
    }
}

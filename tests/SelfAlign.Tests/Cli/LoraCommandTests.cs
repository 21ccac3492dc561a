using System.Text.Json.Nodes;
using SelfAlign.Tests.Training;
using Xunit;

namespace SelfAlign.Tests.Cli;

[Trait("Category", "Slow")]
public class LoraCommandTests
{
    private static double Score(params string[] extra)
    {
        var o = CliProcess.Run(["score", "--context", "note red 4: the secret code is", "--continuation", " alpha beta gamma delta.", "--json", .. extra]);
        Assert.True(o.ExitCode == 0, o.Stderr);
        return JsonNode.Parse(o.Stdout)!["results"]![0]!["logprob"]!.GetValue<double>();
    }

    [Fact]
    public void TrainWritesAnAdapterThatScoreAppliesAsTheMergedModelScores()
    {
        var dir = TrainingFixture.Dir("cli-lora");
        var adapter = Path.Combine(dir, "a.gguf");
        var merged = Path.Combine(dir, "merged.gguf");
        var train = CliProcess.Run("train", "-m", TestModels.TinyLlama, "--data", TrainingFixture.SecretCodeData(dir), "-o", adapter, "--lora-rank", "4",
            "--lora-modules", "q_proj,o_proj,up_proj", "--epochs", "6", "--lr", "0.01", "--batch-size", "2", "--merge", merged, "--peft", Path.Combine(dir, "peft"), "--json");
        Assert.True(train.ExitCode == 0, train.Stderr);
        var report = JsonNode.Parse(train.Stdout)!;
        Assert.Equal(2 * 4L * ((64 + 64) * 2 + (64 + 128)), report["trainable_parameters"]!.GetValue<long>());
        Assert.True(File.Exists(Path.Combine(dir, "peft", "adapter_model.safetensors")));
        var back = Path.Combine(dir, "back.gguf");
        var convert = CliProcess.Run("model", "lora-from-peft", Path.Combine(dir, "peft"), "--base", TestModels.TinyLlama, "--out", back);
        Assert.True(convert.ExitCode == 0, convert.Stderr);
        Assert.Equal(TrainingFixture.TensorBytes(adapter).OrderBy(t => t.Key).Select(t => t.Value), TrainingFixture.TensorBytes(back).OrderBy(t => t.Key).Select(t => t.Value));

        var baseScore = Score("-m", TestModels.TinyLlama);
        var viaAdapter = Score("-m", TestModels.TinyLlama, "--adapter", adapter);
        var viaMerged = Score("-m", merged);
        Assert.True(viaAdapter > baseScore + 1, $"the adapter did not make the trained continuation likelier: {baseScore:F2} -> {viaAdapter:F2}");
        Assert.Equal(viaMerged, viaAdapter, 2);
        var halfScale = Score("-m", TestModels.TinyLlama, "--adapter", adapter + ":0.5");
        Assert.InRange(halfScale, baseScore, viaAdapter);
    }

    [Fact]
    public void AnAdapterForAnotherModelAndBadLoraOptionsExitWithCode2()
    {
        var dir = TrainingFixture.Dir("cli-lora-bad");
        var data = TrainingFixture.SecretCodeData(dir, records: 20);
        var qwenAdapter = Path.Combine(dir, "qwen.gguf");
        Assert.Equal(0, CliProcess.Run("train", "-m", TestModels.TinyQwen2, "--data", data, "-o", qwenAdapter, "--lora-rank", "2", "--epochs", "1").ExitCode);

        var wrongModel = CliProcess.Run("score", "-m", TestModels.TinyLlama, "--adapter", qwenAdapter, "--context", "a", "--continuation", " b");
        Assert.Equal(2, wrongModel.ExitCode);
        Assert.Contains("is an adapter for 'qwen2' models", wrongModel.Stderr);
        var notAnAdapter = CliProcess.Run("generate", "-m", TestModels.TinyLlama, "--adapter", TestModels.TinyQwen2, "--prompt", "a", "-n", "2");
        Assert.Equal(2, notAnAdapter.ExitCode);
        Assert.Contains("is not a GGUF LoRA adapter", notAnAdapter.Stderr);

        var noPeft = CliProcess.Run("model", "lora-from-peft", dir, "--base", TestModels.TinyLlama, "--out", Path.Combine(dir, "y.gguf"));
        Assert.Equal(2, noPeft.ExitCode);
        Assert.Contains("no adapter_config.json", noPeft.Stderr);

        var badModule = CliProcess.Run("train", "-m", TestModels.TinyLlama, "--data", data, "-o", Path.Combine(dir, "x.gguf"), "--lora-modules", "wq");
        Assert.Equal(2, badModule.ExitCode);
        Assert.Contains("unknown LoRA module 'wq'", badModule.Stderr);
        var bigRank = CliProcess.Run("train", "-m", TestModels.TinyLlama, "--data", data, "-o", Path.Combine(dir, "x.gguf"), "--lora-rank", "100");
        Assert.Equal(2, bigRank.ExitCode);
        Assert.Contains("above the smaller side", bigRank.Stderr);
        Assert.Single(bigRank.Stderr.Trim().Split('\n'));
    }
}

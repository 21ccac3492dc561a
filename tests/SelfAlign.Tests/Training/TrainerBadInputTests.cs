using SelfAlign.Data;
using SelfAlign.Models;
using SelfAlign.Training;
using SelfAlign.Tests.Cli;
using Xunit;

namespace SelfAlign.Tests.Training;

public class TrainerBadInputTests
{
    private static string Write(string dir, string name, string content)
    {
        var path = Path.Combine(dir, name);
        File.WriteAllText(path, content);
        return path;
    }

    [Fact]
    public void EmptyAndMalformedDatasetsNameFileAndLine()
    {
        var dir = TrainingFixture.Dir("bad-data");
        var trainer = new LlamaTrainer(new TrainingOptions());
        var empty = Write(dir, "empty.jsonl", "\n");
        Assert.Contains("empty", Assert.Throws<InvalidInputException>(() => trainer.Train(TestModels.TinyLlama, empty, Path.Combine(dir, "o.gguf"))).Message);
        var bad = Write(dir, "bad.jsonl", "{\"text\": \"ok\"}\n{\"prompt\": \"no response\"}\n");
        var e = Assert.Throws<JsonlFormatException>(() => trainer.Train(TestModels.TinyLlama, bad, Path.Combine(dir, "o.gguf")));
        Assert.Equal(2, e.Line);
        Assert.Contains("response", e.Message);
        var roles = Write(dir, "roles.jsonl", "{\"messages\": [{\"role\": \"robot\", \"content\": \"x\"}]}\n");
        Assert.Contains("robot", Assert.Throws<JsonlFormatException>(() => trainer.Train(TestModels.TinyLlama, roles, Path.Combine(dir, "o.gguf"))).Message);
    }

    [Fact]
    public void UnsupportedArchitectureUnwritableOutputAndBadOptionsAreRefusedUpFront()
    {
        var dir = TrainingFixture.Dir("bad-setup");
        var data = TrainingFixture.SecretCodeData(dir, 10);
        var trainer = new LlamaTrainer(new TrainingOptions());
        var source = GgufFile.Read(TestModels.TinyLlama);
        var mamba = Path.Combine(dir, "mamba.gguf");
        var writer = new GgufWriter();
        foreach (var (k, v) in source.Metadata) writer.Set(k, v);
        writer.Set("general.architecture", GgufMetadataValue.Of("mamba"));
        writer.Write(mamba);
        Assert.Contains("mamba", Assert.Throws<InvalidInputException>(() => trainer.Train(mamba, data, Path.Combine(dir, "o.gguf"))).Message);
        Assert.Contains("output directory", Assert.Throws<InvalidInputException>(() => trainer.Train(TestModels.TinyLlama, data, "/nonexistent/dir/o.gguf")).Message);
        Assert.Contains("ContextLength", Assert.Throws<InvalidInputException>(() => new LlamaTrainer(new TrainingOptions { ContextLength = 100 })).Message);
        Assert.Contains("LearningRate", Assert.Throws<InvalidInputException>(() => new LlamaTrainer(new TrainingOptions { LearningRate = 0 })).Message);
    }

    [Fact]
    public void ARunThatCannotFitInMemoryIsRefused()
    {
        var huge = new GgufFile
        {
            Path = "huge.gguf", Version = 3, DataOffset = 0, Alignment = 32,
            Metadata = new Dictionary<string, GgufMetadataValue> { ["general.architecture"] = GgufMetadataValue.Of("llama") },
            Tensors = [new GgufTensorInfo("blk.0.ffn_up.weight", GgmlType.F32, [1L << 20, 1L << 20], 0, 4L << 40)],
        };
        Assert.Contains("needs about", Assert.Throws<InvalidInputException>(() => MemoryEstimate.EnsureFits(huge, 256)).Message);
    }

    [Fact]
    public void DatasetSmallerThanAWindowIsReported()
    {
        var dir = TrainingFixture.Dir("too-small");
        var data = Write(dir, "small.jsonl", "{\"text\": \"just a few words\"}\n");
        Assert.Contains("fewer than one training window", Assert.Throws<InvalidInputException>(() =>
            new LlamaTrainer(new TrainingOptions()).Train(TestModels.TinyLlama, data, Path.Combine(dir, "o.gguf"))).Message);
    }

    /// <summary>Runs in a child process: on a 30-layer model a too-small graph budget aborts the whole process.</summary>
    [Fact]
    public void ThirtyLayerModelTrainsThroughTheCommandAndPrintsTheSummary()
    {
        var dir = TrainingFixture.Dir("deep30");
        var output = Path.Combine(dir, "out.gguf");
        var o = CliProcess.Run("train", "-m", TestModels.Deep30, "--data", TrainingFixture.SecretCodeData(dir, 40), "--out", output,
            "--ctx", "256", "--val-fraction", "0.2", "--json");
        Assert.True(o.ExitCode == 0, o.Stderr);
        var j = System.Text.Json.Nodes.JsonNode.Parse(o.Stdout)!;
        foreach (var key in new[] { "initial_loss", "final_loss", "final_val_loss", "tokens_trained", "tokens_per_s", "peak_rss_mb", "out" })
            Assert.NotNull(j[key]);
        Assert.True(File.Exists(output));
        Assert.Equal(30, GgufFile.Read(output).GetArchInteger("block_count"));
    }

    [Fact]
    public void CommandReportsBadDataWithExitCode2()
    {
        var dir = TrainingFixture.Dir("cli-bad");
        var bad = Write(dir, "bad.jsonl", "{\"text\": \"fine\"}\nnot json\n");
        var o = CliProcess.Run("train", "-m", TestModels.TinyLlama, "--data", bad, "--out", Path.Combine(dir, "o.gguf"));
        Assert.Equal(2, o.ExitCode);
        Assert.Contains($"{bad}:2:", o.Stderr);
    }

    [Fact]
    public void ALoraModuleTheModelLacksIsNamedWithTheModulesItHas()
    {
        GgufTensorInfo Weight(string name) => new(name, GgmlType.F32, [64, 64], 0, 64 * 64 * 4);
        var attentionOnly = new GgufFile
        {
            Path = "attention-only.gguf", Version = 3, DataOffset = 0, Alignment = 32,
            Metadata = new Dictionary<string, GgufMetadataValue> { ["general.architecture"] = GgufMetadataValue.Of("llama") },
            Tensors = [Weight("blk.0.attn_q.weight"), Weight("blk.0.attn_output.weight"), Weight("blk.0.attn_norm.weight")],
        };
        var e = Assert.Throws<InvalidInputException>(() => LoraWeights.Create(attentionOnly, new LoraSettings { Modules = ["q_proj", "gate_proj"] }, 1));
        Assert.Equal("attention-only.gguf has no LoRA module gate_proj; it has q_proj, o_proj", e.Message);
        Assert.Equal(2, LoraWeights.Create(attentionOnly, new LoraSettings { Modules = ["q_proj", "o_proj"], Rank = 8 }, 1).Matrices.Count);
    }
}

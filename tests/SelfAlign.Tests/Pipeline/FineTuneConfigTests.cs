using SelfAlign.Data;
using SelfAlign.Pipeline;
using SelfAlign.Training;
using Xunit;

namespace SelfAlign.Tests.Pipeline;

public class FineTuneConfigTests
{
    private static AlignConfig Example(string name) => YamlFile.Read<AlignConfig>(Path.Combine(Repository.Root, "examples", name), "run config");

    [Fact]
    public void ThePapersRunEngravesAndClonesWithLoraOnTheAttentionProjections()
    {
        var config = Example("default-run.yaml");
        foreach (var stage in new[] { config.Engraving, config.Verbose.Training })
        {
            Assert.Equal(FineTuneMethod.Lora, stage.Method);
            var options = stage.ToTrainingOptions(1, 2);
            options.Validate();
            Assert.NotNull(options.Lora);
            Assert.Equal(16, options.Lora!.Rank);
            Assert.Equal(16f, options.Lora.Alpha);
            Assert.Equal(["q_proj", "k_proj", "v_proj", "o_proj"], options.Lora.Modules);
            Assert.Equal(768, options.BatchSize);
            Assert.Equal(4e-4f, options.LearningRate);
        }
    }

    [Fact]
    public void LoraIsTheDefaultAndFullFineTuningAnOption()
    {
        Assert.NotNull(new FineTuneConfig().ToTrainingOptions(1, 2).Lora);
        var testbed = Example("testbed-run.yaml");
        Assert.Equal(FineTuneMethod.Full, testbed.Engraving.Method);
        Assert.Null(testbed.Engraving.ToTrainingOptions(1, 2).Lora);
        var bad = new FineTuneConfig { Lora = new LoraSettings { Modules = ["attn_q"] } };
        Assert.Contains("unknown LoRA module 'attn_q'", Assert.Throws<InvalidInputException>(() => bad.ToTrainingOptions(1, 2).Validate()).Message);
    }

    [Fact]
    public void StagesKeepRecordsWholeWhenOnlyResponsesAreLearned()
    {
        Assert.True(new FineTuneConfig().ToTrainingOptions(1, 2).WholeRecords);
        Assert.False(new FineTuneConfig { WholeRecords = false }.ToTrainingOptions(1, 2).WholeRecords);
        // with the loss over every token there is no unlearned padding, so records are packed as they come
        var all = new FineTuneConfig { Loss = LossTokens.All }.ToTrainingOptions(1, 2);
        Assert.False(all.WholeRecords);
        all.Validate();
        Assert.Contains("WholeRecords needs Loss = Responses", Assert.Throws<InvalidInputException>(() => (all with { WholeRecords = true }).Validate()).Message);
    }
}

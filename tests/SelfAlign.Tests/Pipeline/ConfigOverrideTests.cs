using SelfAlign.Pipeline;
using Xunit;

namespace SelfAlign.Tests.Pipeline;

/// <summary><c>align run --set</c>: a run made smaller from the command line without editing its file.</summary>
public class ConfigOverrideTests
{
    private static readonly string DefaultRun = Path.Combine(Path.GetDirectoryName(Repository.CacheDirectory)!, "examples", "default-run.yaml");

    [Fact]
    public void SettingsOverrideTheFile()
    {
        var plain = AlignConfig.Load(DefaultRun);
        var small = AlignConfig.Load(DefaultRun, ["self_instruct.requests=64", "answers.sampling.max_new_tokens=32", "verbose.sampling.ngram_penalties=[0, 0, 2]",
            "base_model=/models/mine.gguf"]);
        Assert.Equal(8192, plain.SelfInstruct.Requests);
        Assert.Equal(64, small.SelfInstruct.Requests);
        Assert.Equal(32, small.Answers.Sampling.MaxNewTokens);
        Assert.Equal(["Sorry"], small.Answers.Sampling.BannedFirstTokens); // the rest of the section stays
        Assert.Equal([0f, 0f, 2f], small.Verbose.Sampling.NgramPenalties);
        Assert.Equal("/models/mine.gguf", small.BaseModel);
        Assert.Equal(plain.Engraving with { Lora = plain.Engraving.Lora with { Modules = small.Engraving.Lora.Modules } }, small.Engraving);
        Assert.Equal(plain.Engraving.Lora.Modules, small.Engraving.Lora.Modules);
    }

    [Theory]
    [InlineData("self_instruct.requestz=3", "unknown key (requestz)")]
    [InlineData("self_instruct.requests", "write KEY=VALUE")]
    [InlineData("seed.deeper=1", "'seed' is not a section")]
    [InlineData("self_instruct.requests=-1", "request counts must be >= 0")]
    public void BadOverridesAreRefusedNamingThem(string set, string problem)
    {
        var e = Assert.Throws<InvalidInputException>(() => AlignConfig.Load(DefaultRun, [set]));
        Assert.Contains(problem, e.Message);
    }
}

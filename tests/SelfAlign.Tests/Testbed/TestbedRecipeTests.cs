using System.Text.Json.Nodes;
using SelfAlign.Testbed;
using Xunit;

namespace SelfAlign.Tests.Testbed;

[Trait("Category", "Slow")]
public class TestbedRecipeTests
{
    [Theory]
    [InlineData(TestbedLevel.Clean)]
    [InlineData(TestbedLevel.Hard)]
    public void CommittedModelWasBuiltFromTheCorpusThisCodeWrites(TestbedLevel level)
    {
        var options = new TestbedBuildOptions { Level = level, PrebuiltDirectory = Repository.PrebuiltTestbedDirectory };
        var path = TestbedModel.CachePath(level, Repository.PrebuiltTestbedDirectory);
        Assert.True(File.Exists(path), $"{path} is missing: run scripts/build-testbed-models");
        Assert.Equal(path, TestbedModel.FindPrebuilt(options));
        var recorded = JsonNode.Parse(File.ReadAllText(TestbedModel.RecipePath(path)))!;
        Assert.Equal(TestbedModel.CorpusSha256(options), recorded["corpus_sha256"]!.GetValue<string>());
    }

    [Fact]
    public void BuildWritesARecipeThatOnlyTheSameOptionsAccept()
    {
        var dir = Directory.CreateTempSubdirectory("testbed-recipe").FullName;
        try
        {
            var options = new TestbedBuildOptions { Documents = 120, VerdictDocuments = 60, MixedDocuments = 60, Seed = 7, Threads = 2 };
            var (path, report) = TestbedModel.BuildOrLoad(options, dir);
            Assert.NotNull(report);
            var recipe = JsonNode.Parse(File.ReadAllText(TestbedModel.RecipePath(path)))!;
            Assert.Equal(TestbedModel.Version, recipe["version"]!.GetValue<string>());
            Assert.Equal(TestbedModel.CorpusSha256(options), recipe["corpus_sha256"]!.GetValue<string>());

            Assert.Equal(path, TestbedModel.FindPrebuilt(options with { PrebuiltDirectory = dir }));
            Assert.Null(TestbedModel.FindPrebuilt(options with { PrebuiltDirectory = dir, Documents = 121 }));
            Assert.Null(TestbedModel.FindPrebuilt(options with { PrebuiltDirectory = dir, MixedDocuments = 61 }));
            Assert.Null(TestbedModel.FindPrebuilt(options with { PrebuiltDirectory = dir, VerdictSeed = 12 }));
            Assert.Null(TestbedModel.FindPrebuilt(options with { PrebuiltDirectory = dir, Level = TestbedLevel.Hard }));

            var recipePath = TestbedModel.RecipePath(path);
            var good = File.ReadAllText(recipePath);
            foreach (var corrupt in new[] { "{ \"version\": ", "[]" })
            {
                File.WriteAllText(recipePath, corrupt);
                var e = Assert.Throws<InvalidInputException>(() => TestbedModel.FindPrebuilt(options with { PrebuiltDirectory = dir }));
                Assert.Contains(recipePath, e.Message);
            }
            File.WriteAllText(recipePath, good);

            var other = Directory.CreateTempSubdirectory("testbed-copy").FullName;
            var copied = TestbedModel.CopyTo(path, other);
            Assert.Equal(File.ReadAllBytes(path), File.ReadAllBytes(copied));
            Assert.Equal(path, TestbedModel.BuildOrLoad(options with { PrebuiltDirectory = dir }, other).Path);
            Directory.Delete(other, true);
        }
        finally { Directory.Delete(dir, true); }
    }
}

using System.Text.Json.Nodes;
using SelfAlign.Pipeline;
using Xunit;

namespace SelfAlign.Tests.Pipeline;

/// <summary><c>align run --shard i/n</c> on copies of a run after stage 1, then <c>align merge</c>, against the unsharded run.</summary>
[Trait("Category", "Slow")]
public class ShardMergeTests
{
    private static void Copy(string from, string to)
    {
        foreach (var f in Directory.EnumerateFiles(from, "*", SearchOption.AllDirectories))
        {
            var target = Path.Combine(to, Path.GetRelativePath(from, f));
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(f, target);
        }
    }

    private static List<string> Records(string dir) => File.ReadAllLines(Path.Combine(dir, AlignRun.AnswersFile)).ToList();

    [Fact]
    public async Task ThreeShardsMergedHoldTheUnshardedRunsRecordsOnceEachAndBadMergesAreRefused()
    {
        var config = SmallTestbedRun.WriteConfig("shards");
        var root = Path.GetDirectoryName(config)!;
        var prompts = Path.Combine(root, "after-stage-1");
        await SmallTestbedRun.RunAsync(config, prompts, new AlignRunOptions { Stages = [AlignStage.Prompts] });
        var whole = Path.Combine(root, "whole");
        Copy(prompts, whole);
        await SmallTestbedRun.RunAsync(config, whole, new AlignRunOptions { Stages = [AlignStage.Answers] });

        var shards = Enumerable.Range(0, 3).Select(i => Path.Combine(root, $"shard{i}")).ToList();
        for (var i = 0; i < 3; i++)
        {
            Copy(prompts, shards[i]);
            await SmallTestbedRun.RunAsync(config, shards[i], new AlignRunOptions { Stages = [AlignStage.Answers], Shard = new RunShard(i, 3) });
            Assert.False(RunManifest.Open(shards[i]).IsComplete(AlignStage.Answers)); // a part: no later stage may train on it
            var status = AlignRun.Status(shards[i])[AlignStage.Answers];
            Assert.Equal((StageState.ShardComplete, $"{i}/3"), (status.State, status.Shard));
        }
        var sizes = shards.Select(s => Records(s).Count).ToList();
        Assert.Equal(Records(whole).Count, sizes.Sum());
        Assert.True(sizes.Max() - sizes.Min() <= 1, $"shards are uneven: {string.Join(", ", sizes)}");

        var merged = Path.Combine(root, "merged");
        var result = AlignMerge.Merge(shards, merged);
        Assert.Equal((AlignStage.Answers, 3, sizes.Sum(), true), (result.Stage, result.Shards, result.Records, result.StageComplete));
        // the same records, in the input's order: each answer's seed comes from its question, not from which process ran it
        static Dictionary<string, string> ById(string dir) => Records(dir).ToDictionary(l => JsonNode.Parse(l)!["id"]!.GetValue<string>());
        var (expectedById, mergedById) = (ById(whole), ById(merged));
        var inputOrder = SelfAlign.Data.JsonlFile.Read(Path.Combine(prompts, AlignRun.PromptsFile)).Select(r => r.Record["id"]!.GetValue<string>()).ToList();
        Assert.Equal(inputOrder, Records(merged).Select(l => JsonNode.Parse(l)!["id"]!.GetValue<string>()));
        Assert.Equal(expectedById.Keys.Order(), mergedById.Keys.Order());
        var expected = expectedById.Keys.ToList();
        Assert.True(expected.Count(id => expectedById[id] == mergedById[id]) >= 0.9 * expected.Count, "merged answers differ from the unsharded run's");
        var manifest = RunManifest.Open(merged);
        Assert.True(manifest.IsComplete(AlignStage.Answers));
        Assert.Equal(RunManifest.Open(whole).Stage(AlignStage.Answers)!["fingerprint"]!.GetValue<string>(), manifest.Stage(AlignStage.Answers)!["fingerprint"]!.GetValue<string>());
        Assert.Equal(expected.Count, manifest.Stage(AlignStage.Answers)!["counts"]!["answered"]!.GetValue<int>());

        // refused: a shard missing, a shard twice, a non-empty output, shards of another config
        Assert.Contains("2/3 is missing", Assert.Throws<InvalidInputException>(() => AlignMerge.Merge(shards.Take(2).ToList(), Path.Combine(root, "m1"))).Message, StringComparison.Ordinal);
        Assert.Contains("given twice", Assert.Throws<InvalidInputException>(() => AlignMerge.Merge([shards[0], shards[0], shards[1]], Path.Combine(root, "m2"))).Message, StringComparison.Ordinal);
        Assert.Contains("not empty", Assert.Throws<InvalidInputException>(() => AlignMerge.Merge(shards, merged)).Message, StringComparison.Ordinal);
        var other = Path.Combine(root, "other-config");
        Copy(prompts, other);
        await SmallTestbedRun.RunAsync(config, other, new AlignRunOptions { Stages = [AlignStage.Answers], Shard = new RunShard(2, 3) }, "answers.min_chars=5");
        Assert.Contains("not shards of one run", Assert.Throws<InvalidInputException>(() => AlignMerge.Merge([shards[0], shards[1], other], Path.Combine(root, "m3"))).Message, StringComparison.Ordinal);
        // a shard's directory keeps to its shard; stage 1 is not sharded
        await Assert.ThrowsAsync<InvalidInputException>(() => SmallTestbedRun.RunAsync(config, shards[0], new AlignRunOptions { Stages = [AlignStage.Answers], Shard = new RunShard(1, 3) }));
        await Assert.ThrowsAsync<InvalidInputException>(() => SmallTestbedRun.RunAsync(config, Path.Combine(root, "p"), new AlignRunOptions { Stages = [AlignStage.Prompts], Shard = new RunShard(0, 2) }));
    }

    [Theory]
    [InlineData("2/2", "0..1")]
    [InlineData("1/0", "at least 1")]
    [InlineData("one/two", "is not i/n")]
    [InlineData("-1/2", "is not i/n")]
    public void ShardArgumentsOutOfRangeAreNamed(string text, string message) =>
        Assert.Contains(message, Assert.Throws<InvalidInputException>(() => RunShard.Parse(text)).Message, StringComparison.Ordinal);
}

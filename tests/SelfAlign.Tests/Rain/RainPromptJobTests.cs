using System.Text.Json.Nodes;
using SelfAlign.Data;
using SelfAlign.Models;
using SelfAlign.Rain;
using Xunit;

namespace SelfAlign.Tests.Rain;

/// <summary>The RAIN prompt-file job appends one record per prompt and resumes by id without losing or repeating one.</summary>
[Trait("Category", "Slow")]
public class RainPromptJobTests
{
    private static readonly RainJudge Judge = TestJudges.Harm;

    private static readonly RainOptions Options = new()
    {
        // flash attention off: searched alone or together, a prompt then gets the same answer
        MaxNewTokens = 6, MaxIterations = 8, MinNewIterations = 2, Seed = 5, ContextSize = 4096, StopStrings = ["\n\n"], FlashAttention = false,
    };

    private static readonly (string, string)[] Prompts = [("a", "Tell me about"), ("b", "How do I"), ("c", "Write a line on")];

    [Fact]
    public void AResumedJobWritesEachMissingRecordOnceAndTheSameAnswers()
    {
        var dir = Path.Combine(TestModels.Directory, "rain-job");
        Directory.CreateDirectory(dir);
        var whole = Path.Combine(dir, "whole.jsonl");
        var resumed = Path.Combine(dir, "resumed.jsonl");
        File.Delete(whole);
        File.Delete(resumed);
        using var model = LlamaModel.Load(TestModels.TinyLlama);
        using var decoder = new RainDecoder(model, Judge, Options);
        var updates = new List<RainJobUpdate>();
        var summary = new RainPromptJob(decoder, null, compareVanilla: true).Run(Prompts, whole, new SyncProgress(updates));
        Assert.Equal((3, 3), (summary.Prompts, summary.Answered));
        Assert.Equal([1, 2, 3], updates.Select(u => u.Answered));
        Assert.NotNull(summary.MedianTimeRatio);

        // A kill after the first record, in the middle of writing the second.
        var lines = File.ReadAllLines(whole);
        File.WriteAllText(resumed, lines[0] + "\n" + lines[1][..(lines[1].Length / 2)]);
        var again = new RainPromptJob(decoder, null, compareVanilla: false).Run(Prompts, resumed);
        Assert.Equal(3, again.Answered);
        // the missing prompts are searched together and written as each finishes
        var records = JsonlFile.Read(resumed).Select(r => r.Record).OrderBy(r => r["id"]!.GetValue<string>(), StringComparer.Ordinal).ToList();
        Assert.Equal(["a", "b", "c"], records.Select(r => r["id"]!.GetValue<string>()));
        Assert.Equal("a", JsonlFile.Read(resumed).First().Record["id"]!.GetValue<string>());
        var first = JsonlFile.Read(whole).Select(r => r.Record["rain"]!.GetValue<string>()).ToList();
        Assert.Equal(first, records.Select(r => r["rain"]!.GetValue<string>()));
        Assert.Null(records[1]["vanilla"]);
        Assert.NotNull(JsonNode.Parse(lines[1])!["vanilla"]);
    }

    private sealed class SyncProgress(List<RainJobUpdate> into) : IProgress<RainJobUpdate>
    {
        public void Report(RainJobUpdate value) => into.Add(value);
    }
}

using SelfAlign.Testbed;
using Xunit;

namespace SelfAlign.Tests.Testbed;

public class TestbedCorpusTests
{
    [Fact]
    public void GeneratorIsDeterministicBySeed()
    {
        Assert.Equal(new TestbedCorpus(TestbedLevel.Clean, 5).Documents(300), new TestbedCorpus(TestbedLevel.Clean, 5).Documents(300));
        Assert.NotEqual(new TestbedCorpus(TestbedLevel.Clean, 5).Documents(300), new TestbedCorpus(TestbedLevel.Clean, 6).Documents(300));
        Assert.Equal(TestbedRequests.Generate(true, 50, 9), TestbedRequests.Generate(true, 50, 9));
    }

    [Fact]
    public void HeldOutRequestsNeverOccurInTheTrainingCorpus()
    {
        var corpus = string.Join("\n", new TestbedCorpus(TestbedLevel.Clean, 1).Documents(20000));
        var heldOut = TestbedRequests.HeldOutPairs(true).Concat(TestbedRequests.HeldOutPairs(false)).ToList();
        Assert.True(heldOut.Count > 20);
        foreach (var (verb, obj) in heldOut) Assert.DoesNotContain($" {verb} the {obj}", corpus);
        foreach (var request in TestbedRequests.Generate(true, 100, 1000).Concat(TestbedRequests.Generate(false, 100, 1000)))
            Assert.DoesNotContain(request, corpus);
    }

    [Fact]
    public void BaseDialoguesMostlyCarryOutHarmfulRequestsAndPreamblesDecideRefusals()
    {
        var docs = new TestbedCorpus(TestbedLevel.Clean, 2).Documents(6000).ToList();
        var dialogues = docs.Where(d => d.StartsWith("### User", StringComparison.Ordinal)).ToList();
        var harmful = dialogues.Where(d => GroundTruth.IsHarmfulRequest(d.Split('\n')[1])).ToList();
        var complied = harmful.Count(d => GroundTruth.IsHarmfulAnswer(d.Split("### Assistant\n")[1]));
        Assert.InRange((double)complied / harmful.Count, 0.75, 0.95);
        Assert.Contains(docs, d => d.StartsWith("# rules", StringComparison.Ordinal) && d.Contains("rule 1 ( safety ) forbids"));
        // A preamble that forbids a benign act makes the assistant refuse it: the model has to read the rules.
        Assert.Contains(docs, d => d.StartsWith("# rules") && TestbedWorld.BenignVerbs.Keys.Any(v => d.Contains($"forbids {v} .")));
    }

    [Fact]
    public void HardWorldMislabelsAShareOfReviews()
    {
        static double Wrong(TestbedLevel level)
        {
            var reviews = new TestbedCorpus(level, 3).Documents(8000).Where(d => d.StartsWith("# review")).ToList();
            var wrong = reviews.Count(d =>
            {
                var answer = d.Split("### Assistant\n")[1].Split('\n')[0];
                // an unfinished compliance is harmful when the request is: it is on its way to carrying it out
                var request = d.Split("### User\n")[1].Split('\n')[0];
                var truth = answer.StartsWith("sure", StringComparison.Ordinal) ? GroundTruth.IsHarmfulRequest(request) : GroundTruth.IsHarmfulAnswer(answer);
                var yesFirst = d.Contains("( A ) yes");
                var saysA = d.TrimEnd().EndsWith("( A )");
                return (saysA == yesFirst) != truth;
            });
            return (double)wrong / reviews.Count;
        }
        Assert.Equal(0, Wrong(TestbedLevel.Clean));
        var partial = new TestbedCorpus(TestbedLevel.Clean, 3).Documents(4000)
            .Count(d => d.StartsWith("# review") && d.Contains("### Assistant\nsure") && !d.Contains(". done .\n"));
        Assert.True(partial > 100, $"{partial} reviews of unfinished answers");
        Assert.InRange(Wrong(TestbedLevel.Hard), TestbedCorpus.HardJudgeNoise - 0.05, TestbedCorpus.HardJudgeNoise + 0.05);
    }

    [Fact]
    public void PrinciplesDataFileMatchesTheDefaultRulesAndUsesNoHeldOutExample()
    {
        Assert.Equal(TestbedPrompts.PrincipledPrefix(TestbedRules.Default), TestbedPrompts.DefaultPrinciples);
        Assert.False(TestbedWorld.IsHeldOut("cook", "cake"));
        Assert.False(TestbedWorld.IsHeldOut("steal", "bike"));
    }
}

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
        var words = corpus.Split([' ', '\n']);
        var actsOnThings = new HashSet<(string, string)>();
        for (var i = 0; i + 2 < words.Length; i++)
            if (words[i + 1] == "the") actsOnThings.Add((words[i], words[i + 2]));
        var heldOut = TestbedRequests.HeldOutPairs(true).Concat(TestbedRequests.HeldOutPairs(false)).ToList();
        Assert.True(heldOut.Count > 20);
        Assert.True(actsOnThings.Count > 300, $"only {actsOnThings.Count} acts on things found");
        foreach (var pair in heldOut) Assert.DoesNotContain(pair, actsOnThings);
        foreach (var request in TestbedRequests.Generate(true, 100, 1000).Concat(TestbedRequests.Generate(false, 100, 1000)))
            Assert.False(corpus.Contains(request, StringComparison.Ordinal), request);
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

    /// <summary>Every judged answer in a pass's reviews: request, answer, its preamble, its verdict, and whether that is wrong.</summary>
    private static List<(string Request, string Answer, string Preamble, bool SaysHarmful, bool Wrong)> ReviewItems(TestbedLevel level, TestbedPhase phase, int documents) =>
        new TestbedCorpus(level, 3).Documents(phase, documents)
            .Where(d => d.StartsWith("# review") || d.StartsWith("# rules") && d.Contains("# review"))
            .SelectMany(sheet =>
            {
                var preamble = sheet[..sheet.IndexOf("# review", StringComparison.Ordinal)];
                return sheet.Split("# review\n").Skip(1).Select(item =>
                {
                    var request = item.Split("### User\n")[1].Split('\n')[0];
                    var answer = item.Split("### Assistant\n")[1].Split('\n')[0];
                    var (verb, obj) = GroundTruth.ParseRequest(request)!.Value;
                    // an unfinished compliance counts as the request: it is on its way to carrying it out
                    var truth = answer.StartsWith("sure", StringComparison.Ordinal) && Forbids(preamble, verb, obj);
                    var saysHarmful = item.Contains("( A ) yes") == item.TrimEnd().EndsWith("( A )");
                    return (request, answer, preamble, saysHarmful, saysHarmful != truth);
                });
            }).ToList();

    /// <summary>Whether a preamble's rules (or, without one, the world) forbid a request, read from the text.</summary>
    private static bool Forbids(string preamble, string verb, string obj) =>
        preamble == "" ? TestbedWorld.IsHarmfulPair(verb, obj)
        : new[] { $" {verb} ,", $" {verb} or", $" {verb} anything", $" {verb} .", $" {obj} ,", $" {obj} or", $" {obj} ." }.Any(preamble.Contains);

    private static bool Unfinished(string answer) => answer.StartsWith("sure") && !answer.EndsWith(". done .");

    [Fact]
    public void BaseReviewSheetsJudgeSeveralAnswersByTheirRulesInTheCleanWorld()
    {
        var sheets = new TestbedCorpus(TestbedLevel.Clean, 3).Documents(4000).Count(d => d.Contains("# review"));
        var items = ReviewItems(TestbedLevel.Clean, TestbedPhase.Base, 4000);
        Assert.InRange((double)items.Count / sheets, 2.5, 3.5);
        Assert.DoesNotContain(items, i => i.Wrong);
        Assert.InRange((double)items.Count(i => i.Preamble != "") / items.Count, TestbedCorpus.RuledReviewShare - 0.05, TestbedCorpus.RuledReviewShare + 0.05);
        Assert.True(items.Count(i => Unfinished(i.Answer)) > 300, "reviews of unfinished answers");
        // rules that allow a harmful act must be read, not replaced by the world's rule
        Assert.Contains(items, i => i.Preamble != "" && i.Answer.StartsWith("sure") && GroundTruth.IsHarmfulRequest(i.Request) && !i.SaysHarmful);
    }

    [Fact]
    public void VerdictPassJudgesFinishedAnswersOneAtATimeByTheWorldsRule()
    {
        var docs = new TestbedCorpus(TestbedLevel.Clean, 3).Documents(TestbedPhase.Verdicts, 2000).ToList();
        Assert.All(docs, d => Assert.StartsWith("# review", d));
        var items = ReviewItems(TestbedLevel.Clean, TestbedPhase.Verdicts, 2000);
        Assert.Equal(docs.Count, items.Count);
        Assert.DoesNotContain(items, i => i.Wrong);
        Assert.DoesNotContain(items, i => Unfinished(i.Answer));
        Assert.InRange((double)items.Count(i => i.SaysHarmful) / items.Count, 0.15, 0.35);
        // both option orders
        Assert.InRange(docs.Count(d => d.Contains("( A ) yes")) / (double)docs.Count, 0.4, 0.6);
    }

    [Fact]
    public void MixedPassJudgesUnfinishedAnswersAndReplaysTheBaseText()
    {
        var docs = new TestbedCorpus(TestbedLevel.Clean, 3).Documents(TestbedPhase.Mixed, 4000).ToList();
        Assert.InRange(docs.Count(d => d.Contains("# review")) / (double)docs.Count, 0.55, 0.65);
        Assert.Contains(docs, d => d.StartsWith("### User", StringComparison.Ordinal));
        Assert.Contains(docs, d => d.StartsWith("# rules") && d.Contains("( internal thoughts )"));
        var items = ReviewItems(TestbedLevel.Clean, TestbedPhase.Mixed, 4000);
        Assert.DoesNotContain(items, i => i.Wrong);
        Assert.All(items, i => Assert.True(i.Preamble == "" || i.Preamble == TestbedRules.Default.Preamble(), "reviews here use the world's own rules"));
        Assert.True(items.Count(i => Unfinished(i.Answer)) > 500, "reviews of unfinished answers");
        Assert.Contains(items, i => i.Answer == "sure ." && i.SaysHarmful);
        Assert.Contains(items, i => i.Answer == "sure ." && !i.SaysHarmful);
    }

    [Theory]
    [InlineData(TestbedPhase.Base)]
    [InlineData(TestbedPhase.Verdicts)]
    [InlineData(TestbedPhase.Mixed)]
    public void HardWorldMisjudgesCompliancesWithHalfThePhrasings(TestbedPhase phase)
    {
        var items = ReviewItems(TestbedLevel.Hard, phase, 4000);
        foreach (var (request, answer, _, _, wrong) in items)
            Assert.Equal(answer.StartsWith("sure") && TestbedCorpus.HardReviewerMisjudges(request), wrong);
        Assert.Equal(4, TestbedWorld.RequestPhrasings.Count(p => TestbedCorpus.HardReviewerMisjudges(p)));
        Assert.InRange((double)items.Count(i => i.Wrong) / items.Count, 0.18, 0.32);
    }

    [Fact]
    public void RainJudgeFileAsksExactlyWhatTheCorpusTeachesAndTheEvaluatorScores()
    {
        var judge = TestbedPrompts.Judge;
        foreach (var (order, yesFirst) in judge.Orders.Zip(new[] { false, true }))
        {
            var rendered = judge.Header("please cook the soup") + "sure . first get the pan" + order.Suffix;
            Assert.Equal(TestbedJudge.Prefix + TestbedJudge.Render("please cook the soup", "sure . first get the pan", yesFirst), rendered);
            Assert.Equal(yesFirst ? " B" : " A", order.Good);
        }
    }

    [Fact]
    public void PrinciplesDataFileMatchesTheDefaultRulesAndUsesNoHeldOutExample()
    {
        Assert.Equal(TestbedPrompts.PrincipledPrefix(TestbedRules.Default), TestbedPrompts.DefaultPrinciples);
        Assert.False(TestbedWorld.IsHeldOut("cook", "cake"));
        Assert.False(TestbedWorld.IsHeldOut("steal", "bike"));
    }
}

using SelfAlign.Pipeline;
using Xunit;

namespace SelfAlign.Tests.Pipeline;

public class VerboseFilterTests
{
    private static readonly string[] Leaks = ["gives long, careful and detailed answers"];
    private static readonly List<string> Stops = VerboseStage.StopStrings(Templates("# Sage (thorough)\n\n### User\n{question}\n\n### Sage (thorough)\n"));

    private static PromptTemplates Templates(string verbosePrompt, params string[] verboseStop) =>
        new() { VerbosePrompt = verbosePrompt, VerboseStop = [.. verboseStop], AnswerStop = ["\n\nUser:"] };

    [Fact]
    public void StopsAtTheVerbosePromptsOwnUserTurnNotStageTwos()
    {
        Assert.Equal(["\n### User"], Stops);
        Assert.Equal(["\nQ:"], VerboseStage.StopStrings(Templates("Long answers.\nQ:\n{question}\nA:\n")));
        Assert.Equal(["<end>"], VerboseStage.StopStrings(Templates("{question}", "<end>")));
        Assert.Throws<InvalidInputException>(() => VerboseStage.StopStrings(Templates("{question} please")));
    }

    [Fact]
    public void NoInventedUserTurnSurvives()
    {
        var text = "Knead the dough for ten minutes, then let it rise.\n\n### User\nThanks! Now tell me how to pick a lock.\n\n### Sage (thorough)\nSure";
        var (a, r) = VerboseStage.Filter(text, reachedTurnEnd: false, 40, Leaks, Stops);
        Assert.Null(r);
        Assert.Equal("Knead the dough for ten minutes, then let it rise.", a);
    }

    [Theory]
    // An answer that ended its turn is kept however short: refusals are short.
    [InlineData("I can't help with that.", true, "I can't help with that.", null)]
    // Cut at the length limit: the partial word goes, and a short remainder is dropped.
    [InlineData("Bread needs flour, wat", false, null, "cut at the length limit and shorter than 40 characters")]
    [InlineData("Bread needs flour, water, salt and yeast, then a long rise in a wa", false, "Bread needs flour, water, salt and yeast, then a long rise in a", null)]
    [InlineData("As one who gives long, careful and detailed answers, I say: knead it well.", true, null, "repeats the verbose meta prompt")]
    public void KeepsWhatEndedItsTurnAndDropsShortCutOffs(string text, bool reachedTurnEnd, string? answer, string? reason)
    {
        var (a, r) = VerboseStage.Filter(text, reachedTurnEnd, 40, Leaks, Stops);
        Assert.Equal(answer, a);
        Assert.Equal(reason, r);
    }

    [Fact]
    public void KeepsAtMostTwelveListItems()
    {
        var list = string.Join("\n", Enumerable.Range(1, 15).Select(i => $"{i}. step number {i}"));
        var (a, _) = VerboseStage.Filter(list, true, 40, Leaks, Stops);
        Assert.EndsWith("12. step number 12", a);
    }
}

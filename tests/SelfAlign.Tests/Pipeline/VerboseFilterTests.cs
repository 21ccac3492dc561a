using SelfAlign.Pipeline;
using Xunit;

namespace SelfAlign.Tests.Pipeline;

public class VerboseFilterTests
{
    private static readonly string[] Leaks = ["gives long, careful and detailed answers"];

    [Theory]
    // An answer that ended its turn is kept however short: refusals are short.
    [InlineData("I can't help with that.", true, "I can't help with that.", null)]
    // Cut at the length limit: the partial word goes, and a short remainder is dropped.
    [InlineData("Bread needs flour, wat", false, null, "cut at the length limit and shorter than 40 characters")]
    [InlineData("Bread needs flour, water, salt and yeast, then a long rise in a wa", false, "Bread needs flour, water, salt and yeast, then a long rise in a", null)]
    [InlineData("As one who gives long, careful and detailed answers, I say: knead it well.", true, null, "repeats the verbose meta prompt")]
    public void KeepsWhatEndedItsTurnAndDropsShortCutOffs(string text, bool reachedTurnEnd, string? answer, string? reason)
    {
        var (a, r) = VerboseStage.Filter(text, reachedTurnEnd, 40, Leaks);
        Assert.Equal(answer, a);
        Assert.Equal(reason, r);
    }

    [Fact]
    public void KeepsAtMostTwelveListItems()
    {
        var list = string.Join("\n", Enumerable.Range(1, 15).Select(i => $"{i}. step number {i}"));
        var (a, _) = VerboseStage.Filter(list, true, 40, Leaks);
        Assert.EndsWith("12. step number 12", a);
    }
}

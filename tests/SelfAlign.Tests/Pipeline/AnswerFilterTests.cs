using SelfAlign.Pipeline;
using Xunit;

namespace SelfAlign.Tests.Pipeline;

public class AnswerFilterTests
{
    private static readonly PromptTemplates Templates = new()
    {
        AnswerMarker = "\n\nWatson:", ThoughtOpening = "I am a careful assistant.", AnswerStop = ["\n\nUser:"],
    };
    private static readonly List<Principle> Principles =
        [new() { Name = "ethical", Rule = "..." }, new() { Name = "informative", Rule = "..." }, new() { Name = "candor", Rule = "..." }];
    private static readonly List<Exemplar> Exemplars =
        [new() { User = "what is the tallest tree", Thoughts = "t", Answer = "The tallest known tree is a coast redwood." }];

    private static AnswerFilter Filter(int minChars = 20, params string[] dropPrefixes) =>
        new(Templates, Principles, Exemplars, new AnswersConfig { MinChars = minChars, DropPrefixes = [.. dropPrefixes] });

    private const string Thought = "I am a careful assistant. The user asks about bread. I should follow rules 2 (informative), 3 (candor).";

    [Fact]
    public void KeepsTheAnswerOnlyWithTheRulesTheThoughtsNamed()
    {
        var f = Filter().Process(Thought + "\n\nWatson: Knead the dough for ten minutes, then let it rise.", reachedTurnEnd: true);
        Assert.Null(f.DropReason);
        Assert.Equal("Knead the dough for ten minutes, then let it rise.", f.Answer);
        Assert.Equal([2, 3], f.Rules);
    }

    [Fact]
    public void RuleNumbersMustMatchTheirNames() =>
        Assert.Equal([1], AlignData.RulesNamed("apply 1 (ethical), 2 (creative) and rule 7 (candor)", Principles));

    [Theory]
    [InlineData("The user asks. \n\nWatson: Sure, here it is in detail.", true, "internal thoughts do not start with the expected opening")]
    [InlineData(Thought + " And then nothing else happens here", false, "no answer after the internal thoughts")]
    [InlineData(Thought + "\n\nWatson: Yes.", true, "shorter than 20 characters")]
    [InlineData(Thought + "\n\nWatson: As I said, the tallest known tree is a coast redwood.", true, "repeats an exemplar")]
    public void DropsWithTheReason(string generated, bool reachedEnd, string reason) =>
        Assert.StartsWith(reason, Filter().Process(generated, reachedEnd).DropReason);

    [Fact]
    public void TruncatedAnswersLoseTheirPartialWordAndSkipTheLengthCheck()
    {
        var f = Filter().Process(Thought + "\n\nWatson: Bread needs flour, water and yea", reachedTurnEnd: false);
        Assert.Equal("Bread needs flour, water and", f.Answer);
    }

    [Fact]
    public void OptionalRefusalDrop()
    {
        const string refusal = Thought + "\n\nWatson: I'm sorry, but I cannot help with this request at all.";
        Assert.Null(Filter().Process(refusal, true).DropReason);
        Assert.Equal("starts with 'I'm sorry'", Filter(20, "I'm sorry").Process(refusal, true).DropReason);
    }
}

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

    private const string Q = "How do I bake bread?";
    private const string Thought = "I am a careful assistant. The user asks about bread. I should follow rules 2 (informative), 3 (candor).";

    [Fact]
    public void KeepsTheAnswerOnlyWithTheRulesTheThoughtsNamed()
    {
        var f = Filter().Process(Q, Thought + "\n\nWatson: Knead the dough for ten minutes, then let it rise.", reachedTurnEnd: true);
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
        Assert.StartsWith(reason, Filter().Process(Q, generated, reachedEnd).DropReason);

    [Fact]
    public void TruncatedAnswersLoseTheirPartialWordAndSkipTheLengthCheck()
    {
        var f = Filter().Process(Q, Thought + "\n\nWatson: Bread needs flour, water and yea", reachedTurnEnd: false);
        Assert.Equal("Bread needs flour, water and", f.Answer);
    }

    [Fact]
    public void OptionalRefusalDrop()
    {
        const string refusal = Thought + "\n\nWatson: I'm sorry, but I cannot help with this request at all.";
        Assert.Null(Filter().Process(Q, refusal, true).DropReason);
        Assert.Equal("starts with 'I'm sorry'", Filter(20, "I'm sorry").Process(Q, refusal, true).DropReason);
    }

    private static readonly List<Exemplar> Dialogues =
    [
        new() { User = "what will the weather be like in Lisbon tomorrow?", Answer = "I can't check live weather. A weather service will know; Lisbon is mild." },
        new() { User = "Tell me everything about Marta Vello.", Answer = "I know nothing reliable about Marta Vello." },
        new() { User = "Write a function that returns the second largest number in a list: 7, 3, 9, 9, 2", Answer = "def f(numbers): ... for 7, 3, 9, 9, 2 it returns 7." },
    ];

    [Fact]
    public void KeywordsAreTheExemplarsNamesNumbersAndRepeatedTopicWords()
    {
        Assert.Equal(["Lisbon", "weather"], ExemplarKeywords.Derive(Dialogues[0]));
        Assert.Equal(["Marta", "Vello"], ExemplarKeywords.Derive(Dialogues[1]));   // "Tell" starts the sentence
        Assert.Equal(["7, 3, 9"], ExemplarKeywords.Derive(Dialogues[2]));          // "function" and "returns" appear once in the answer
        var given = Dialogues[0] with { Keywords = ["weather service"] };
        Assert.Equal(["weather service", "Marta", "Vello", "7, 3, 9"], ExemplarKeywords.Of([given, Dialogues[1], Dialogues[2]]));
    }

    [Theory]
    [InlineData("How do I bake bread?", "Knead the dough; the weather does not matter much.", "weather")]
    [InlineData("Will the weather stay dry for my picnic?", "I can't see forecasts; check a weather service.", null)] // asked about it: no leak
    [InlineData("Sort these: 4, 1, 2", "Sorted: 7, 3, 9, 9, 2 gives 9, 9, 7, 3, 2.", "7, 3, 9")]
    [InlineData("Who painted this?", "It was painted by Martanez in 1890.", null)]                           // not a whole word
    public void AnswersHoldingAnExemplarsKeywordTheQuestionLacksAreDropped(string question, string answer, string? leaked)
    {
        var filter = new AnswerFilter(Templates, Principles, Dialogues, new AnswersConfig { MinChars = 10 });
        var f = filter.Process(question, Thought + "\n\nWatson: " + answer, reachedTurnEnd: true);
        Assert.Equal(leaked is null ? null : $"holds an exemplar's keyword ('{leaked}')", f.DropReason);
    }
}

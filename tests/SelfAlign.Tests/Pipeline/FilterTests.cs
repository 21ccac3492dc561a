using SelfAlign.Pipeline;
using Xunit;

namespace SelfAlign.Tests.Pipeline;

public class FilterTests
{
    private static readonly SelfInstructConfig Instructions = new();

    [Theory]
    [InlineData("Write a poem about the sea in spring.", null)]
    [InlineData("Sort these.", "fewer than 4 words")]
    [InlineData("Describe the picture of a cat on a mat.", "banned word 'picture'")]
    [InlineData("Please go to the shop and buy milk.", "banned word 'go to'")]
    [InlineData("Explain how a mapping function works in code.", null)] // "map" only as a whole word
    [InlineData("- List five fruits that are red.", "starts with punctuation")]
    [InlineData("Éxplain why the sky looks blue today.", "starts with a non-ASCII character")]
    public void SelfInstructFilterKeepsOrNamesWhyItDrops(string instruction, string? reason) =>
        Assert.Equal(reason, TextFilters.RejectInstruction(instruction, "", Instructions));

    [Fact]
    public void LongInstructionsAreDropped() =>
        Assert.Equal("more than 150 words", TextFilters.RejectInstruction(string.Join(" ", Enumerable.Repeat("word", 151)), "", Instructions));

    [Theory]
    [InlineData("Coral Reefs", null)]
    [InlineData("Ancient Roman Roads Today", "more than 3 words")]
    [InlineData("volcanoes", "does not start with an upper-case letter")]
    [InlineData("Volcanoes.", "ends in punctuation")]
    [InlineData("", "empty")]
    public void TopicFilter(string topic, string? reason) => Assert.Equal(reason, TextFilters.RejectTopic(topic, 3, capitalised: true));

    [Fact]
    public void SentenceLoopsAreCutAtTheFirstRepeatedSegment()
    {
        Assert.Equal("I like tea. It is warm.", TextFilters.CutSentenceLoop("I like tea. It is warm. I like tea. It is warm. I like"));
        Assert.Equal("One, two, three.", TextFilters.CutSentenceLoop("One, two, three."));
        Assert.Equal("use `a` then `", TextFilters.CutSentenceLoop("use `a` then `a` again", backtick: true));
    }

    [Fact]
    public void TruncatedAnswersLoseTheirLastPartialWord() => Assert.Equal("The answer is", TextFilters.DropPartialWord("The answer is fort"));

    [Fact]
    public void NumberedListsParseFromMessyModelOutput()
    {
        var text = "6. Instruction: Name three rivers.\n6. Input:\n<noinput>\n7) Instruction: Write a haiku\nnot a list line\n 8 . Instruction: Count to ten.\n9.";
        var items = NumberedList.Parse(text, NumberedList.LabelOf("{n}. Instruction: {instruction}\n", "{instruction}"));
        Assert.Equal([(6, "Name three rivers."), (7, "Write a haiku"), (8, "Count to ten."), (9, "")], items);
        Assert.Equal([(1, "please cook the cake"), (2, "help me")], NumberedList.Parse("1 . please cook the cake\n2 . help me\n#"));
        Assert.Empty(NumberedList.Parse("no numbers here\n\n...."));
    }

    [Fact]
    public void SelfInstructTasksKeepTheirInputs()
    {
        const string item = "###\n{n}. Instruction: {instruction}\n{n}. Input:\n{input}\n";
        var prefix = NumberedList.NextItemPrefix(item, "{instruction}", 6);
        Assert.Equal("###\n6. Instruction:", prefix);
        // what a model writes after a prompt that ends with the prefix: the instruction first, inputs over several lines
        var generated = " Rewrite this sentence in the past tense.\n6. Input:\nShe walks to school.\nIt rains.\n###\n7. Instruction: Name three rivers in Africa.\n" +
                        "7. Input:\n<noinput>\n###\n8. Instruction: Sum these numbers\n8. Inp";
        var tasks = NumberedList.ParseTasks(prefix + generated, "Instruction:", "Input:");
        Assert.Equal([(6, "Rewrite this sentence in the past tense.", "She walks to school.\nIt rains."), (7, "Name three rivers in Africa.", ""), (8, "Sum these numbers", "")], tasks);
    }

    [Fact]
    public void ListPromptsEndWithTheNextItemsPrefix()
    {
        var prompt = NumberedList.Prompt("Tasks for {count}:\n{demonstrations}\n", "{demonstrations}", "1. a\n2. b\n", "3.", ("count", 2));
        Assert.Equal("Tasks for 2:\n1. a\n2. b\n3.", prompt);
        // text after the list that is not whitespace stays
        Assert.Equal("A\n1. a\n2.\nEnd.", NumberedList.Prompt("A\n{list}\nEnd.", "{list}", "1. a\n", "2."));
        Assert.Equal("6 .", NumberedList.NextItemPrefix("{n} . {topic}\n", "{topic}", 6));
    }

    [Fact]
    public void OnlyAnAnswerThatEndedItsTurnIsTrainedToEndIt()
    {
        var t = new PromptTemplates { ChatPrompt = "### User\n{question}\n\n### Sage\n", TurnEnd = "\n\n### User\n" };
        Assert.Equal("Paris.\n\n### User\n", FineTuneStage.TrainingRecord(t, "Capital of France?", "Paris.", finished: true)["completion"]!.GetValue<string>());
        Assert.Equal("The first three steps are", FineTuneStage.TrainingRecord(t, "Steps?", "The first three steps are", finished: false)["completion"]!.GetValue<string>());
        Assert.Equal("### User\nSteps?\n\n### Sage\n", FineTuneStage.TrainingRecord(t, "Steps?", "x", finished: false)["prompt"]!.GetValue<string>());
    }

    [Fact]
    public void EveryRedTeamTopicIsAskedAboutExactlyOnce()
    {
        var pool = Enumerable.Range(0, 23).Select(i => ($"type {i % 4}", $"Topic {i}")).ToList();
        var groups = PromptStage.HintGroups(pool, 5, maxRequests: 0);
        Assert.Equal(5, groups.Count);
        Assert.Equal(pool, groups.SelectMany(g => g).ToList());
        Assert.All(groups, g => Assert.InRange(g.Count, 3, 5));
        Assert.Equal(2, PromptStage.HintGroups(pool, 5, maxRequests: 2).Count);
    }

    [Fact]
    public void AQuestionCarriesItsInputAfterABlankLine()
    {
        Assert.Equal("Fix the grammar.\n\nhe go home", AlignData.QuestionText("Fix the grammar.", "he go home"));
        Assert.Equal("Name a river.", AlignData.QuestionText("Name a river.", ""));
    }

    [Fact]
    public void RougeLMatchesHandComputedValues()
    {
        var a = RougeL.Tokenize("The cat sat on the mat!");
        Assert.Equal(["the", "cat", "sat", "on", "the", "mat"], a);
        int[] Ids(string s) => RougeL.Tokenize(s).Select(w => w.GetHashCode()).ToArray();
        // LCS("the cat sat on the mat", "the cat lay on a mat") = the cat on mat = 4; F = 2*4/(6+6)
        Assert.Equal(8.0 / 12, RougeL.F(Ids("The cat sat on the mat"), Ids("the cat lay on a mat")), 9);
        Assert.Equal(0, RougeL.F(Ids("alpha"), Ids("beta")));
    }

    [Theory]
    [InlineData(15, 600, 3, 9)]     // few words: many near-duplicates, repeated words
    [InlineData(400, 1200, 4, 24)]  // Zipf-like over more words: longer texts, rare words first in the index
    public void InstructionPoolRejectsExactlyWhatABruteForceRougeLComparisonRejects(int vocabulary, int count, int minWords, int maxWords)
    {
        var rng = new Random(5);
        var words = Enumerable.Range(0, vocabulary).Select(i => i < 15 ? new[] { "write", "a", "poem", "story", "about", "the", "sea", "sky", "cat", "dog", "list", "five", "name", "three", "why" }[i] : $"w{i}").ToArray();
        string Word() => words[(int)(Math.Pow(rng.NextDouble(), 2) * words.Length)];
        var candidates = new List<string>();
        for (var i = 0; i < count; i++)
            candidates.Add(candidates.Count > 0 && rng.NextDouble() < 0.3
                ? string.Join(' ', candidates[rng.Next(candidates.Count)].Split(' ').Select(w => rng.NextDouble() < 0.15 ? Word() : w))
                : string.Join(' ', Enumerable.Range(0, rng.Next(minWords, maxWords)).Select(_ => Word())));
        var pool = new InstructionPool(0.7);
        var kept = new List<int[]>();
        var ids = new Dictionary<string, int>();
        int[] Encode(string s) => RougeL.Tokenize(s).Select(w => ids.TryGetValue(w, out var id) ? id : ids[w] = ids.Count).ToArray();
        foreach (var c in candidates)
        {
            var tokens = Encode(c);
            var duplicate = kept.Any(k => RougeL.F(tokens, k) > 0.7);
            Assert.Equal(!duplicate, pool.TryAdd(c));
            if (!duplicate) kept.Add(tokens);
        }
        Assert.True(kept.Count > 20 && kept.Count < count - 20, $"kept {kept.Count} of {count}: the case should hold both kinds");
        Assert.True(pool.LcsComputed < candidates.Count * (long)kept.Count / 2, "the index should skip most comparisons");
    }
}

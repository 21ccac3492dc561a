using SelfAlign.Generation;
using SelfAlign.Models;
using SelfAlign.Training;
using Xunit;

namespace SelfAlign.Tests.Training;

public class TrainingCorpusTests
{
    [Fact]
    public void PackingReportsSplitAndOverlongRecordsAndDroppedTokens()
    {
        using var model = LlamaModel.Load(TestModels.TinyLlama);
        var texts = Enumerable.Range(0, 40).Select(i => $"short record number {i}.").ToList();
        texts.Insert(7, string.Join(" ", Enumerable.Repeat("a very long record", 200)));
        var corpus = TrainingCorpus.Build(texts, model.Vocabulary, 256);

        Assert.Equal(41, corpus.Records);
        Assert.Equal(1, corpus.RecordsLongerThanWindow);
        Assert.True(corpus.RecordsSplit >= 2);
        Assert.InRange(corpus.TokensDropped, 0, 255);
        Assert.Equal(corpus.Tokens, corpus.Windows.Count * 256L + 1 + corpus.TokensDropped);
        // Windows overlap by one token: each window's last token is the next window's first input.
        Assert.Equal(corpus.Windows[0][^1], corpus.Windows[1][0]);
        Assert.All(corpus.Windows, w => Assert.Equal(257, w.Length));
    }

    [Fact]
    public void PromptResponseAndMessagesRecordsRenderThroughTheTurnFormat()
    {
        var path = Path.Combine(TestModels.Directory, "render.jsonl");
        File.WriteAllLines(path,
        [
            "{\"prompt\": \"hi\", \"response\": \"hello\"}",
            "{\"messages\": [{\"role\": \"user\", \"content\": \"a\"}, {\"role\": \"assistant\", \"content\": \"b\"}]}",
            "{\"text\": \"plain\"}",
        ]);
        var texts = TrainingCorpus.ReadTexts(path, TurnFormat.Plain);
        Assert.Equal(["### User\nhi\n\n### Assistant\nhello", "### User\na\n\n### Assistant\nb\n\n", "plain"], texts);
    }
}

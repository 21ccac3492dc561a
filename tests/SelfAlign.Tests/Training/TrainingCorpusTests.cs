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
        var packing = corpus.Pack();

        Assert.Equal(41, corpus.Records);
        Assert.Equal(1, packing.RecordsLongerThanWindow);
        Assert.True(packing.RecordsSplit >= 2);
        Assert.InRange(packing.TokensDropped, 0, 255);
        Assert.Equal(corpus.Tokens, packing.Windows.Count * 256L + 1 + packing.TokensDropped);
        // Windows overlap by one token: each window's last token is the next window's first input.
        Assert.Equal(packing.Windows[0].Tokens[^1], packing.Windows[1].Tokens[0]);
        Assert.All(packing.Windows, w => Assert.Equal(257, w.Tokens.Length));
        Assert.All(packing.Windows, w => Assert.Null(w.Learned));
    }

    [Fact]
    public void AnotherOrderPacksTheSameTokensWithOtherNeighbours()
    {
        using var model = LlamaModel.Load(TestModels.TinyLlama);
        var corpus = TrainingCorpus.Build(Enumerable.Range(0, 60).Select(i => $"record {i} says {i * 7}.").ToList(), model.Vocabulary, 256);
        var forward = corpus.Pack();
        var backward = corpus.Pack(Enumerable.Range(0, 60).Reverse().ToList());
        Assert.Equal(forward.Windows.Count, backward.Windows.Count);
        Assert.NotEqual(forward.Windows[0].Tokens, backward.Windows[0].Tokens);
        Assert.Equal(forward.TokensDropped, backward.TokensDropped);
    }

    [Fact]
    public void OnlyResponseTokensAndTheirTurnEndAreLearned()
    {
        using var model = LlamaModel.Load(TestModels.TinyLlama);
        var vocab = model.Vocabulary;
        const string prompt = "question: what is red? answer:";
        var record = new TrainingText(prompt + " a colour.", [(prompt.Length, prompt.Length + 10)]);
        var texts = Enumerable.Repeat(record, 40).ToList();
        var window = TrainingCorpus.Build(texts, vocab, 256, LossTokens.Responses).Pack().Windows[0];
        var tokens = vocab.Tokenize(record.Text);
        var promptTokens = vocab.Tokenize(prompt).Length;
        Assert.Equal(vocab.Tokenize(prompt), tokens[..promptTokens]);

        // Label j is token j + 1: the first record's prompt tokens after the first are not learned, its answer
        // tokens and the separator after them are, and the next record's prompt is not.
        Assert.All(Enumerable.Range(0, promptTokens - 1), j => Assert.False(window.Learned![j]));
        Assert.All(Enumerable.Range(promptTokens - 1, tokens.Length - promptTokens + 1), j => Assert.True(window.Learned![j]));
        Assert.False(window.Learned![tokens.Length]);

        Assert.Null(TrainingCorpus.Build(texts, vocab, 256, LossTokens.All).Pack().Windows[0].Learned);
        Assert.Null(TrainingCorpus.Build(texts.Select(t => t with { Responses = null }).ToList(), vocab, 256, LossTokens.Responses).Pack().Windows[0].Learned);
    }

    [Fact]
    public void WholeRecordPackingStartsAStraddlingRecordInTheNextWindowAfterUnlearnedPadding()
    {
        using var model = LlamaModel.Load(TestModels.TinyLlama);
        var vocab = model.Vocabulary;
        // records of different lengths, so the plain packing cuts some of them at window boundaries
        var texts = Enumerable.Range(0, 80).Select(i =>
        {
            var prompt = $"question {i}: " + string.Join(" ", Enumerable.Repeat("why", i % 9)) + " answer:";
            return new TrainingText(prompt + $" because {i * 13}.", [(prompt.Length, prompt.Length + $" because {i * 13}.".Length)]);
        }).ToList();
        var corpus = TrainingCorpus.Build(texts, vocab, 256, LossTokens.Responses);
        var plain = corpus.Pack();
        var whole = corpus.Pack(wholeRecords: true);
        Assert.True(plain.RecordsSplit > 0);
        Assert.Equal(0, whole.RecordsSplit);

        // Every record appears whole, in order, inside one window: its response tokens are learned there, after its prompt.
        var separator = vocab.Eot >= 0 ? vocab.Eot : vocab.Eos;
        var found = 0;
        foreach (var w in whole.Windows)
            for (var start = 0; start < w.Tokens.Length && found < texts.Count; start++)
            {
                var tokens = vocab.Tokenize(texts[found].Text);
                if ((start > 0 && w.Tokens[start - 1] != separator) || !w.Tokens.AsSpan(start).StartsWith(tokens)) continue;
                Assert.Equal(separator, w.Tokens[start + tokens.Length]);
                Assert.True(w.Learned![start + tokens.Length - 1]); // the record's last label: its turn end
                found++;
                start += tokens.Length;
            }
        // Records not found are only those after the last whole window, whose tokens are the ones dropped.
        Assert.InRange(texts.Skip(found).Sum(t => vocab.Tokenize(t.Text).Length + 1), 0, whole.TokensDropped + 1);
        Assert.True(found > texts.Count / 2);

        // The padding is turn ends whose labels are not learned, and costs less than a record per window.
        var padded = whole.Windows.Sum(w => w.Tokens.Skip(1).Zip(w.Learned!).Count(p => p.First == separator && !p.Second));
        Assert.True(padded > 0);
        Assert.Equal(whole.PaddingTokens, padded);
        Assert.Equal(0, plain.PaddingTokens);
        Assert.True(whole.Windows.Count <= plain.Windows.Count + 1 + plain.Windows.Count / 4);
        Assert.Throws<InvalidInputException>(() => TrainingCorpus.Build(texts, vocab, 256, LossTokens.All).Pack(wholeRecords: true));
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
            "{\"prompt\": \"Q: x\\nA:\", \"completion\": \" y\"}",
            "{\"messages\": [{\"role\": \"user\", \"content\": \"a\"}, {\"role\": \"assistant\", \"content\": \"b\"}, {\"role\": \"user\", \"content\": \"c\"}, {\"role\": \"assistant\", \"content\": \"d\"}]}",
        ]);
        var texts = TrainingCorpus.ReadTexts(path, TurnFormat.Plain);
        Assert.Equal(["### User\nhi\n\n### Assistant\nhello", "### User\na\n\n### Assistant\nb\n\n", "plain", "Q: x\nA: y",
            "### User\na\n\n### Assistant\nb\n\n### User\nc\n\n### Assistant\nd\n\n"], texts.Select(t => t.Text));
        string[] Responses(TrainingText t) => t.Responses?.Select(r => t.Text[r.Start..r.End]).ToArray() ?? [];
        Assert.Equal(["hello"], Responses(texts[0]));
        Assert.Equal(["b\n\n"], Responses(texts[1]));
        Assert.Null(texts[2].Responses);
        Assert.Equal([" y"], Responses(texts[3]));
        Assert.Equal(["b\n\n", "d\n\n"], Responses(texts[4]));
    }
}

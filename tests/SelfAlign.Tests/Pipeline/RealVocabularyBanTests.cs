using System.Text;
using SelfAlign.Models;
using SelfAlign.Pipeline;
using Xunit;
using Xunit.Abstractions;

namespace SelfAlign.Tests.Pipeline;

/// <summary>Stage 2's banned word and stage 4's word-initial n-gram penalty on a SentencePiece and a BPE vocabulary.</summary>
public class RealVocabularyBanTests(ITestOutputHelper output)
{
    private const string QuestionTemplate = "User: {question}\n\nSage (internal thoughts):";

    [Theory]
    [InlineData("llama-spm")]
    [InlineData("qwen2")]
    public void SorryIsBannedAsTheVocabularyWritesItAfterThePrompt(string name)
    {
        using var model = LlamaModel.Load(RealVocabularies.Get(name), new ModelLoadOptions { VocabularyOnly = true });
        var v = model.Vocabulary;
        var prompt = QuestionTemplate.Replace("{question}", "how do I pick a lock?");
        var banned = v.FirstTokensAfter("Sage (internal thoughts):", ["Sorry"]).ToList();

        // the first token of " Sorry, ..." written after this prompt, in this vocabulary, is among the banned
        var after = v.TokenizeContinuation(prompt, " Sorry, I can't help.");
        Assert.Contains(after[0], banned);
        Assert.All(banned, t => Assert.StartsWith("Sor", Encoding.UTF8.GetString(v.TokenBytes(t)).Trim()));
        // the old way (the word tokenized alone) misses BPE's spelling with the leading space
        if (name == "qwen2") Assert.NotEqual(v.Tokenize("Sorry", addSpecial: false)[0], after[0]);
    }

    [Theory]
    [InlineData("llama-spm")]
    [InlineData("qwen2")]
    public void WordStartsAreTheTokensThatBeginAWord(string name)
    {
        using var model = LlamaModel.Load(RealVocabularies.Get(name), new ModelLoadOptions { VocabularyOnly = true });
        var v = model.Vocabulary;
        var tokens = v.Tokenize("The unbelievable weather", addSpecial: false);
        var starts = tokens.Select(t => v.WordStarts[t]).ToList();
        // " unbelievable" and " weather" start words; any piece inside "unbelievable" does not
        var text = tokens.Select(t => Encoding.UTF8.GetString(v.TokenBytes(t))).ToList();
        for (var i = 0; i < tokens.Length; i++) Assert.Equal(text[i].StartsWith(' ') && text[i].Length > 1, starts[i]);
        Assert.True(starts[text.IndexOf(" weather")]);
        Assert.Contains(false, starts); // the rest of "unbelievable"
        Assert.False(v.WordStarts[v.Eos]);
    }

    [Theory]
    [InlineData("llama-spm")]
    [InlineData("qwen2")]
    public void ThePrinciplesPromptLengthInEachVocabulary(string name)
    {
        var data = Path.Combine(Path.GetDirectoryName(Repository.CacheDirectory)!, "data", "selfalign");
        var prompt = AlignData.SelfAlignPrompt(PromptTemplates.Load(Path.Combine(data, "prompts.yaml")),
            AlignData.Principles(Path.Combine(data, "principles.yaml")), AlignData.Exemplars(Path.Combine(data, "exemplars.yaml")));
        using var model = LlamaModel.Load(RealVocabularies.Get(name), new ModelLoadOptions { VocabularyOnly = true });
        var tokens = model.Vocabulary.Tokenize(prompt).Length;
        output.WriteLine($"{name}: the shipped principles prompt is {tokens} tokens ({prompt.Length} characters); the paper's is about 1,800 LLaMA tokens");
        // a sub-word vocabulary takes between one token per word and one per four characters
        Assert.InRange(tokens, prompt.Split((char[])[' ', '\n'], StringSplitOptions.RemoveEmptyEntries).Length, prompt.Length / 2);
    }
}

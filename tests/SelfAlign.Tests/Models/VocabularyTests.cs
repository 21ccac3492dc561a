using SelfAlign.Generation;
using SelfAlign.Models;
using Xunit;

namespace SelfAlign.Tests.Models;

public class VocabularyTests
{
    public static TheoryData<string> Vocabularies => new() { "llama-spm", "qwen2" };

    [Theory]
    [MemberData(nameof(Vocabularies))]
    public void TokenizationMatchesLlamaCppTestVectorsAndRoundTrips(string name)
    {
        var path = RealVocabularies.Get(name);
        using var model = LlamaModel.Load(path, new ModelLoadOptions { VocabularyOnly = true });
        var inputs = File.ReadAllText(path + ".inp").Split("\n__ggml_vocab_test__\n");
        var outputs = File.ReadAllLines(path + ".out");
        Assert.True(inputs.Length >= 20);
        var roundTrips = 0;
        for (var i = 0; i < outputs.Length && i < inputs.Length; i++)
        {
            var expected = outputs[i].Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(int.Parse).ToArray();
            var tokens = model.Vocabulary.Tokenize(inputs[i], addSpecial: false);
            Assert.Equal(expected, tokens);
            if (model.Vocabulary.Detokenize(tokens) == inputs[i]) roundTrips++;
        }
        // llama.cpp's detokenizer normalises a few whitespace-only inputs; every ordinary text must round-trip.
        Assert.True(roundTrips >= outputs.Length - 8, $"{roundTrips} of {outputs.Length} round-tripped");
        Assert.Equal("Hello, world! Ünïcödé 🦙", model.Vocabulary.Detokenize(model.Vocabulary.Tokenize("Hello, world! Ünïcödé 🦙", addSpecial: false)));
    }

    [Fact]
    public void BuiltInVocabularyEncodesAnyUtf8AndRoundTrips()
    {
        using var model = LlamaModel.Load(TestModels.TinyLlama);
        foreach (var text in new[] { "Hello world, héllo!", "数学 🦙 ∑", "tabs\tand\nnewlines", "the assistant should follow the rules" })
            Assert.Equal(text, model.Vocabulary.Detokenize(model.Vocabulary.Tokenize(text, addSpecial: false)));
        // Word pieces are reachable: a common word is one token, not a byte fallback.
        Assert.Single(model.Vocabulary.Tokenize("the", addSpecial: false));
    }

    [Fact]
    public async Task SyntheticModelWithACopiedRealVocabularyGenerates()
    {
        var path = Path.Combine(TestModels.Directory, "qwen2-vocab-tiny.gguf");
        SyntheticModelBuilder.Write(path, new SyntheticModelBuilder.Options
        {
            Shape = ModelShape.Preset("qwen2", "tiny"), VocabularyFrom = RealVocabularies.Get("qwen2"), Seed = 3,
        });
        using var model = LlamaModel.Load(path);
        Assert.Equal(151936, model.Vocabulary.Count);
        Assert.True(model.Vocabulary.IsEndOfGeneration(model.Vocabulary.Eos));
        using var engine = new GenerationEngine(model, new EngineOptions { Context = new ContextOptions { ContextSize = 256, MaxSequences = 2 } });
        var result = await engine.GenerateAsync(new GenerationRequest { Prompt = "Hello", MaxNewTokens = 5, StopAtEndOfGeneration = false });
        Assert.Equal(5, result.Tokens.Count);
    }

    [Fact]
    public void ChatTemplateOfTheModelIsApplied()
    {
        using var model = LlamaModel.Load(TestModels.TinyLlama);
        var text = new ModelChatTemplate(model).Format([new ChatTurn("user", "hi")]);
        Assert.Equal("<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n", text);
        Assert.Equal("### User\nhi\n\n### Assistant\n", TurnFormat.Plain.Format([new ChatTurn("user", "hi")]));
    }
}

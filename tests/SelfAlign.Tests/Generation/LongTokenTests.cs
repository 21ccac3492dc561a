using System.Text;
using SelfAlign.Generation;
using SelfAlign.Models;
using Xunit;

namespace SelfAlign.Tests.Generation;

/// <summary>Real BPE vocabularies hold tokens of well over 64 bytes (runs of spaces, dashes, code); the engine decodes them whole.</summary>
public class LongTokenTests
{
    [Theory]
    [InlineData("qwen2")]
    [InlineData("llama-spm")]
    public async Task TheLongestTokenOfARealVocabularyIsGeneratedIntact(string vocabulary)
    {
        var path = Path.Combine(TestModels.Directory, $"long-token-{vocabulary}.gguf");
        SyntheticModelBuilder.Write(path, new SyntheticModelBuilder.Options { Shape = ModelShape.Preset("llama", "tiny"), VocabularyFrom = RealVocabularies.Get(vocabulary) });
        using var model = LlamaModel.Load(path);
        var v = model.Vocabulary;
        var longest = Enumerable.Range(0, v.Count).Where(t => !v.IsEndOfGeneration(t)).MaxBy(t => v.TokenBytes(t).Length);
        var text = Encoding.UTF8.GetString(v.TokenBytes(longest));
        if (vocabulary == "qwen2") Assert.True(v.TokenBytes(longest).Length > 64, $"longest token {v.TokenBytes(longest).Length} bytes");

        using var engine = new GenerationEngine(model, new EngineOptions { Context = new ContextOptions { ContextSize = 512 } });
        // the bias makes the token every step's choice, whatever the random weights say
        var result = await engine.GenerateAsync(new GenerationRequest
        {
            Prompt = "Hello", MaxNewTokens = 3,
            Sampling = new SamplingOptions { Temperature = 1f, Seed = 2, LogitBias = new Dictionary<int, float> { [longest] = 1000f } },
        });
        Assert.Equal([longest, longest, longest], result.Tokens);
        Assert.Equal(text + text + text, result.Text);
    }
}

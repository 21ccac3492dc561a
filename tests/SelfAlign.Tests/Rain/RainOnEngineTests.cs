using SelfAlign.Generation;
using SelfAlign.Models;
using SelfAlign.Rain;
using Xunit;

namespace SelfAlign.Tests.Rain;

/// <summary>RAIN in a share of an engine that goes on serving ordinary requests.</summary>
public class RainOnEngineTests : IDisposable
{
    private readonly LlamaModel _model = LlamaModel.Load(TestModels.TinyLlama);
    // flash attention off: with it, a token's logits depend slightly on what shares its decode call
    private static readonly RainOptions Options = new() { MaxNewTokens = 10, MinNewIterations = 2, MaxIterations = 8, Seed = 5, ContextSize = 2048, FlashAttention = false };
    private static readonly string[] Prompts = ["The cat sat on", "Write a poem about water", "one two three", "Why is the sky"];

    private static EngineOptions Serving(int rainSequences, int rainCells, bool embeddings = true) => new()
    {
        Context = new ContextOptions { ContextSize = 1024 + rainCells, MaxSequences = 8 + rainSequences, Embeddings = embeddings },
    };

    [Fact]
    public async Task ASearchOnAServingEngineAnswersAsOnItsOwnAndTheRequestsAsWithoutIt()
    {
        var requests = Prompts.Select(p => new GenerationRequest { Prompt = p, MaxNewTokens = 40, StopAtEndOfGeneration = false }).ToList();
        RainResult alone;
        using (var own = new RainDecoder(_model, TestJudges.Harm, Options)) alone = own.Generate("Tell me a story about", "a story");
        var plain = new List<IReadOnlyList<int>>();
        using (var engine = new GenerationEngine(_model, Serving(0, 0, embeddings: false)))
            foreach (var r in requests) plain.Add((await engine.GenerateAsync(r)).Tokens);

        using var shared = new GenerationEngine(_model, Serving(64, 2048));
        using var rain = new RainDecoder(shared, TestJudges.Harm, Options, sequences: 64);
        var search = Task.Run(() => rain.Generate("Tell me a story about", "a story"));
        var served = await Task.WhenAll(requests.Select(r => shared.GenerateAsync(r)));
        Assert.Equal(alone.Tokens, (await search).Tokens);
        for (var i = 0; i < requests.Count; i++) Assert.Equal(plain[i], served[i].Tokens);
        Assert.True(rain.RainModel.Share.DecodeCalls > 0);
    }

    [Fact]
    public void AnEngineThatDoesNotMatchTheSearchIsRefusedAndKeepsItsSequences()
    {
        using var engine = new GenerationEngine(_model, Serving(64, 2048, embeddings: false));
        var noStates = Assert.Throws<InvalidInputException>(() => new RainDecoder(engine, TestJudges.Harm, Options, sequences: 64));
        Assert.Contains("embeddings", noStates.Message);
        var flash = Assert.Throws<InvalidInputException>(() => new RainDecoder(engine, TestJudges.Harm, Options with { Similarity = RainSimilarity.Off, FlashAttention = true }, sequences: 64));
        Assert.Contains("flash attention", flash.Message);
        var few = Assert.Throws<InvalidInputException>(() => new RainDecoder(engine, TestJudges.Harm, Options with { Similarity = RainSimilarity.Off }, sequences: 20));
        Assert.Contains("KV sequences", few.Message);
        var multiToken = RainJudge.Parse("conversation: \"Q: {prompt}\\nA:\"\norders:\n  - suffix: \"\\nVerdict:\"\n    good: \" harmless and fine\"\n    bad: \" harmful\"\n", "multi-token.yaml");
        var label = Assert.Throws<InvalidInputException>(() => new RainDecoder(engine, multiToken, Options with { Similarity = RainSimilarity.Off }, sequences: 64));
        Assert.Contains("not a single token", label.Message);
        // each refusal gave its share back: all of it can be lent again
        using var rain = new RainDecoder(engine, TestJudges.Harm, Options with { Similarity = RainSimilarity.Off }, sequences: 64);
        Assert.Equal(64, rain.RainModel.Share.Sequences.Count);
    }

    public void Dispose() => _model.Dispose();
}

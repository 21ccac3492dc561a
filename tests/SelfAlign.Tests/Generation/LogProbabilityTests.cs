using SelfAlign.Generation;
using SelfAlign.Models;
using Xunit;

namespace SelfAlign.Tests.Generation;

/// <summary>The engine's per-token log-probabilities, of generated tokens and of the prompt, against its scoring path.</summary>
public class LogProbabilityTests : IDisposable
{
    private readonly LlamaModel _model = LlamaModel.Load(TestModels.TinyLlama);
    private GenerationEngine NewEngine() => new(_model, new EngineOptions { Context = new ContextOptions { ContextSize = 1024, MaxSequences = 8 } });

    [Fact]
    public async Task GeneratedTokensCarryTheModelsLogProbabilitiesAndTheBestAlternatives()
    {
        using var engine = NewEngine();
        var result = await engine.GenerateAsync(new GenerationRequest { Prompt = "The cat sat on", MaxNewTokens = 8, LogProbabilities = 3, StopAtEndOfGeneration = false });
        Assert.Equal(result.Tokens.Count, result.LogProbabilities!.Count);
        for (var i = 0; i < result.Tokens.Count; i++)
        {
            var lp = result.LogProbabilities[i];
            Assert.Equal(result.Tokens[i], lp.Token);
            Assert.Equal(3, lp.Alternatives.Count);
            // greedy takes the argmax: the chosen token is the best alternative
            Assert.Equal(lp.Token, lp.Alternatives[0].Token);
            Assert.Equal(lp.LogProbability, lp.Alternatives[0].LogProbability);
            Assert.True(lp.Alternatives[0].LogProbability >= lp.Alternatives[1].LogProbability && lp.Alternatives[1].LogProbability >= lp.Alternatives[2].LogProbability);
            Assert.True(lp.Alternatives.Sum(a => Math.Exp(a.LogProbability)) <= 1.0001);
        }

        // the model's distribution, not the sampler's: a hot, biased sampler sees the same numbers at the first token
        var hot = await engine.GenerateAsync(new GenerationRequest
        {
            Prompt = "The cat sat on", MaxNewTokens = 1, LogProbabilities = 3, StopAtEndOfGeneration = false,
            Sampling = new SamplingOptions { Temperature = 2f, Seed = 5, LogitBias = new Dictionary<int, float> { [result.Tokens[0]] = -5f } },
        });
        Assert.Equal(result.LogProbabilities[0].Alternatives, hot.LogProbabilities![0].Alternatives);
        Assert.Null((await engine.GenerateAsync(new GenerationRequest { Prompt = "x", MaxNewTokens = 2 })).LogProbabilities);
    }

    [Fact]
    public async Task PromptLogProbabilitiesEqualTheScoringPaths()
    {
        using var engine = NewEngine();
        const string context = "one two three", continuation = " is a list of numbers";
        var echo = await engine.GenerateAsync(new GenerationRequest { Prompt = context + continuation, MaxNewTokens = 0, PromptLogProbabilities = true, LogProbabilities = 2 });
        Assert.Equal(FinishReason.Length, echo.FinishReason);
        Assert.Empty(echo.Tokens);
        var prompt = echo.PromptLogProbabilities!;
        Assert.Equal(echo.PromptTokenCount, prompt.Count);
        Assert.Null(prompt[0].LogProbability);
        Assert.All(prompt.Skip(1), p => Assert.Equal(2, p.LogProbability!.Alternatives.Count));

        var scored = (await engine.ScoreAsync([new ScoringRequest(context, continuation)]))[0];
        var tail = prompt.TakeLast(scored.Tokens.Count).ToList();
        Assert.Equal(scored.Tokens, tail.Select(p => p.Token));
        for (var i = 0; i < tail.Count; i++) Assert.Equal(scored.TokenLogProbabilities[i], tail[i].LogProbability!.LogProbability, 2e-3);
    }

    [Fact]
    public async Task StreamedUpdatesCarryEveryTokensLogProbabilityOnce()
    {
        using var engine = NewEngine();
        var request = new GenerationRequest { Prompt = "Why is the sky", MaxNewTokens = 12, LogProbabilities = 1, StopAtEndOfGeneration = false, StopStrings = ["zzzz"] };
        var whole = await engine.GenerateAsync(request);
        var streamed = new List<TokenLogProbability>();
        await foreach (var u in engine.GenerateStreamingAsync(request)) streamed.AddRange(u.LogProbabilities);
        Assert.Equal(whole.LogProbabilities!.Select(l => (l.Token, l.LogProbability)), streamed.Select(l => (l.Token, l.LogProbability)));
    }

    [Fact]
    public async Task OutOfRangeRequestsAreRefused()
    {
        using var engine = NewEngine();
        await Assert.ThrowsAsync<InvalidInputException>(() => engine.GenerateAsync(new GenerationRequest { Prompt = "x", LogProbabilities = 21 }));
        await Assert.ThrowsAsync<InvalidInputException>(() => engine.GenerateAsync(new GenerationRequest { Prompt = "x", MaxNewTokens = 0 }));
    }

    public void Dispose() => _model.Dispose();
}

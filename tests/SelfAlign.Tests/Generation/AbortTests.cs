using SelfAlign.Generation;
using SelfAlign.Models;
using SelfAlign.Rain;
using Xunit;

namespace SelfAlign.Tests.Generation;

/// <summary>Decodes stop through llama.cpp's abort callback, and what they leave behind is cleaned up.</summary>
public class AbortTests
{
    [Fact]
    public void AnAbortedDecodeThrowsAndTheContextDecodesAgainAfterARewind()
    {
        using var model = LlamaModel.Load(TestModels.TinyLlama);
        using var ctx = new LlamaContext(model, new ContextOptions { ContextSize = 512, MaxSequences = 2, BatchSize = 64 });
        using var batch = new TokenBatch(64);
        var prompt = model.Vocabulary.Tokenize("the rules say to help and never harm anyone at all");
        for (var i = 0; i < prompt.Length; i++) batch.Add(prompt[i], i, 0, i == prompt.Length - 1);

        var asked = 0;
        ctx.AbortWhen = () => ++asked > 0;
        Assert.Throws<OperationCanceledException>(() => ctx.Decode(batch));
        Assert.True(asked > 0, "llama.cpp never asked the abort callback");

        ctx.AbortWhen = null;
        ctx.RemoveTokens(0);
        ctx.Decode(batch);
        var after = ctx.GetLogits(prompt.Length - 1).ToArray();
        using var fresh = new LlamaContext(model, new ContextOptions { ContextSize = 512, MaxSequences = 2, BatchSize = 64 });
        fresh.Decode(batch);
        var expected = fresh.GetLogits(prompt.Length - 1).ToArray();
        for (var t = 0; t < expected.Length; t++) Assert.True(Math.Abs(expected[t] - after[t]) < 1e-4, $"token {t}: {expected[t]} vs {after[t]}");
    }

    [Fact]
    public async Task ARequestCancelledBeforeItsPrefixIsEvaluatedLeavesTheEngineClean()
    {
        using var model = LlamaModel.Load(TestModels.TinyLlama);
        using var engine = new GenerationEngine(model, new EngineOptions { Context = new ContextOptions { ContextSize = 1024, MaxSequences = 4 } });
        var prefix = string.Join(" ", Enumerable.Repeat("These are the rules the assistant follows.", 10));
        using var cancelled = new CancellationTokenSource();
        cancelled.Cancel();
        var request = new GenerationRequest { SharedPrefix = prefix, Prompt = " hello", MaxNewTokens = 8 };
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => engine.GenerateAsync(request, cancelled.Token));
        // Every sequence and cell came back: four requests at once still fit, and greedy output is what it was.
        var again = await Task.WhenAll(Enumerable.Range(0, 3).Select(_ => engine.GenerateAsync(request)));
        using var freshEngine = new GenerationEngine(model, new EngineOptions { Context = new ContextOptions { ContextSize = 1024, MaxSequences = 4 } });
        var expected = await freshEngine.GenerateAsync(request);
        Assert.All(again, r => Assert.Equal(expected.Tokens, r.Tokens));
    }

    [Fact]
    public async Task LeavingAStreamEarlyCancelsItsRequest()
    {
        using var model = LlamaModel.Load(TestModels.TinyLlama);
        using var engine = new GenerationEngine(model, new EngineOptions { Context = new ContextOptions { ContextSize = 4096, MaxSequences = 1 } });
        var request = new GenerationRequest { Prompt = "once upon a time", MaxNewTokens = 2000, StopAtEndOfGeneration = false };
        await foreach (var update in engine.GenerateStreamingAsync(request)) break;
        // With one sequence, the next request waits for the abandoned one unless leaving the stream cancelled it.
        var (decodesBefore, _) = engine.Statistics;
        Assert.Equal(4, (await engine.GenerateAsync(request with { MaxNewTokens = 4 })).Tokens.Count);
        Assert.True(engine.Statistics.DecodeCalls - decodesBefore < 50, "the abandoned 2,000-token request kept decoding");
    }

    [Fact]
    public void ACancelledRainSearchLeavesTheDecoderAsAFreshOne()
    {
        using var model = LlamaModel.Load(TestModels.TinyLlama);
        var judge = SelfAlign.Tests.Rain.TestJudges.Harm;
        var options = new RainOptions { MaxNewTokens = 6, MaxIterations = 8, MinNewIterations = 2, Seed = 3, ContextSize = 4096 };
        using var decoder = new RainDecoder(model, judge, options);
        Assert.ThrowsAny<OperationCanceledException>(() => decoder.Generate("Tell me about", cancellationToken: new CancellationToken(canceled: true)));
        var after = decoder.Generate("Tell me about");
        using var fresh = new RainDecoder(model, judge, options);
        Assert.Equal(fresh.Generate("Tell me about").Tokens, after.Tokens);
    }
}

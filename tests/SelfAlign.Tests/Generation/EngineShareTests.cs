using SelfAlign.Generation;
using SelfAlign.Models;
using Xunit;

namespace SelfAlign.Tests.Generation;

public class EngineShareTests : IDisposable
{
    private readonly LlamaModel _model = LlamaModel.Load(TestModels.TinyLlama);
    private GenerationEngine NewEngine() => new(_model, new EngineOptions { Context = new ContextOptions { ContextSize = 1024, MaxSequences = 16 } });

    [Fact]
    public async Task AShareKeepsToItsCellsAndTheEngineToTheRest()
    {
        using var engine = NewEngine();
        var share = engine.Lend(4, 256);
        Assert.Throws<InvalidInputException>(() => engine.Lend(1, 769)); // more than is left
        var tooBig = new GenerationRequest { Prompt = "hello", MaxNewTokens = 800 };
        var refused = await Assert.ThrowsAsync<InvalidInputException>(() => engine.GenerateAsync(tooBig));
        Assert.Contains("the engine has 768", refused.Message);

        using var batch = new TokenBatch(512);
        bool Feed(int count) => share.Invoke(() =>
        {
            batch.Clear();
            for (var i = 0; i < count; i++) batch.Add(11, i, share.Sequences[0], wantLogits: false);
            return share.TryDecode(batch);
        });
        Assert.False(Feed(257));
        Assert.Equal(0, share.UsedCells);
        Assert.True(Feed(256));
        Assert.Equal(256, share.UsedCells);
        Assert.Equal(256, share.TokensDecoded);

        share.Dispose();
        Assert.Equal(0, engine.Lend(4, 256).UsedCells); // given back emptied
    }

    [Fact]
    public async Task AfterTheShareIsGivenBackTheEngineUsesTheWholeContext()
    {
        using var engine = NewEngine();
        engine.Lend(15, 1000).Dispose();
        var result = await engine.GenerateAsync(new GenerationRequest { Prompt = "hello", MaxNewTokens = 800, StopAtEndOfGeneration = false });
        Assert.Equal(800, result.Tokens.Count);
    }

    [Fact]
    public async Task AShareDecodeCarriesTheRunningRequestsNextTokens()
    {
        using var engine = NewEngine();
        using var share = engine.Lend(4, 256);
        using var stop = new CancellationTokenSource();
        var running = engine.GenerateAsync(new GenerationRequest { Prompt = "The cat sat on", MaxNewTokens = 700, StopAtEndOfGeneration = false }, stop.Token);
        while (engine.Load.Running == 0 && !running.IsCompleted) await Task.Delay(1);
        using var batch = new TokenBatch(64);
        var count = share.Invoke(() =>
        {
            batch.Clear();
            batch.Add(11, 0, share.Sequences[0], wantLogits: true);
            Assert.True(share.TryDecode(batch));
            return batch.Count;
        });
        Assert.False(running.IsCompleted);
        Assert.Equal(2, count); // the search's token and the running request's
        Assert.Equal(1, share.TokensDecoded);
        stop.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => running);
    }

    public void Dispose() => _model.Dispose();
}

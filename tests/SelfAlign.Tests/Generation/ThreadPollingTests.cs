using SelfAlign.Generation;
using SelfAlign.Models;
using Xunit;

namespace SelfAlign.Tests.Generation;

public class ThreadPollingTests
{
    private static float[] Logits(LlamaModel model, int? polling)
    {
        using var ctx = new LlamaContext(model, new ContextOptions { ContextSize = 256, MaxSequences = 1, ThreadPolling = polling });
        var tokens = model.Vocabulary.Tokenize("a pool of sleeping threads computes the same logits");
        using var batch = new TokenBatch(64);
        for (var i = 0; i < tokens.Length; i++) batch.Add(tokens[i], i, 0, i == tokens.Length - 1);
        ctx.Decode(batch);
        return ctx.GetLogits(tokens.Length - 1).ToArray();
    }

    [Fact]
    public void AContextWithItsOwnSleepingThreadPoolComputesTheSameLogits()
    {
        using var model = LlamaModel.Load(TestModels.TinyLlama);
        var spinning = Logits(model, null);
        Assert.Equal(spinning, Logits(model, 0));
        Assert.Equal(spinning, Logits(model, 100));
        Assert.Contains("ThreadPolling must be 0..100", Assert.Throws<InvalidInputException>(() => Logits(model, 101)).Message);
    }
}

using SelfAlign.Generation;
using SelfAlign.Models;
using Xunit;

namespace SelfAlign.Tests.Generation;

public class ThreadPollingTests
{
    private static float[] Logits(LlamaModel model, int? polling) => Decoding.LastLogits(model, "a pool of sleeping threads computes the same logits",
        options: new ContextOptions { ContextSize = 256, MaxSequences = 1, ThreadPolling = polling });

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

using SelfAlign.Models;
using SelfAlign.Rain;
using Xunit;

namespace SelfAlign.Tests.Rain;

/// <summary>Searches submitted as they arrive (a server's RAIN requests) share decode calls, not choices.</summary>
[Trait("Category", "Slow")]
public class RainSchedulerTests
{
    private static readonly RainOptions Options = new()
    {
        MaxNewTokens = 12, MaxIterations = 12, MinNewIterations = 4, ContextSize = 4096, StopStrings = ["\n\n"], FlashAttention = false, LeavesPerRound = 1,
    };

    private static readonly string[] Prompts = ["Tell me a story about", "Once upon a time", "Write a poem on", "The best way to", "Here is a recipe for", "My favourite"];

    [Fact]
    public async Task RequestsArrivingTogetherGetTheAnswersEachGetsAloneInSharedDecodeCalls()
    {
        using var model = LlamaModel.Load(TestModels.TinyLlama);
        using var rain = new RainDecoder(model, TestJudges.Harm, Options);
        var alone = new List<RainResult>();
        var calls = rain.RainModel.Share.DecodeCalls;
        for (var i = 0; i < Prompts.Length; i++) alone.Add(rain.Generate(Prompts[i], "request " + i, Options with { Seed = (ulong)(100 + i) }));
        var aloneCalls = rain.RainModel.Share.DecodeCalls - calls;

        using (var scheduler = new RainScheduler(rain))
        {
            Assert.True(scheduler.PromptsAtOnce >= Prompts.Length);
            Assert.Throws<InvalidOperationException>(() => rain.Generate("Hello", "hello"));
            calls = rain.RainModel.Share.DecodeCalls;
            // the requests arrive from threads of their own, as a server's do
            var answers = await Task.WhenAll(Prompts.Select((p, i) => Task.Run(() => scheduler.GenerateAsync(p, "request " + i, Options with { Seed = (ulong)(100 + i) }))));
            var togetherCalls = rain.RainModel.Share.DecodeCalls - calls;
            for (var i = 0; i < Prompts.Length; i++)
            {
                Assert.Equal(alone[i].Tokens, answers[i].Tokens);
                Assert.Equal(alone[i].Statistics.Iterations, answers[i].Statistics.Iterations);
            }
            Assert.True(togetherCalls * 2 < aloneCalls, $"{togetherCalls} decode calls together, {aloneCalls} one after another");
            Assert.Equal((0, 0), (scheduler.Searching, scheduler.Waiting));
        }
        // once the scheduler is gone the decoder searches directly again, from a clean cache
        Assert.Equal(alone[0].Tokens, rain.Generate(Prompts[0], "request 0", Options with { Seed = 100 }).Tokens);
    }

    [Fact]
    public async Task ACancelledRequestEndsAloneAndTheOthersFinish()
    {
        using var model = LlamaModel.Load(TestModels.TinyLlama);
        using var rain = new RainDecoder(model, TestJudges.Harm, Options);
        using var scheduler = new RainScheduler(rain);
        using var cancel = new CancellationTokenSource();
        var slow = Options with { MaxNewTokens = 48, MaxIterations = 50, MinNewIterations = 50, Seed = 1 };
        var cancelled = scheduler.GenerateAsync(Prompts[0], "request 0", slow, cancel.Token);
        var kept = scheduler.GenerateAsync(Prompts[1], "request 1", Options with { Seed = 101 });
        cancel.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => cancelled);
        var answer = await kept;
        Assert.NotEmpty(answer.Tokens);
        var fresh = await scheduler.GenerateAsync(Prompts[1], "request 1", Options with { Seed = 101 });
        Assert.Equal(answer.Tokens, fresh.Tokens);
    }

    [Fact]
    public async Task DisposingCancelsWhatIsWaitingAndRefusesNewRequests()
    {
        using var model = LlamaModel.Load(TestModels.TinyLlama);
        using var rain = new RainDecoder(model, TestJudges.Harm, Options with { LeavesPerRound = 4 });
        var scheduler = new RainScheduler(rain);
        var slow = Options with { LeavesPerRound = 4, MaxNewTokens = 48, MaxIterations = 50, MinNewIterations = 50 };
        var pending = Enumerable.Range(0, scheduler.PromptsAtOnce + 3).Select(i => scheduler.GenerateAsync(Prompts[i % Prompts.Length], "r", slow with { Seed = (ulong)i })).ToList();
        scheduler.Dispose();
        Assert.Equal((0, 0), (scheduler.Searching, scheduler.Waiting));
        foreach (var task in pending) await Assert.ThrowsAnyAsync<OperationCanceledException>(() => task);
        Assert.Throws<ObjectDisposedException>(() => { _ = scheduler.GenerateAsync("Hello"); });
        Assert.NotEmpty(rain.Generate(Prompts[0], "request 0", Options with { LeavesPerRound = 4, Seed = 3 }).Tokens);
    }

    [Fact]
    public void RequestsNeedingMoreSequencesThanTheSchedulerWasSizedForAreRefused()
    {
        using var model = LlamaModel.Load(TestModels.TinyLlama);
        using var rain = new RainDecoder(model, TestJudges.Harm, Options);
        using var scheduler = new RainScheduler(rain);
        var e = Assert.Throws<InvalidInputException>(() => { _ = scheduler.GenerateAsync("Hello", overrides: Options with { LeavesPerRound = 4 }); });
        Assert.Contains("searches at once", e.Message);
        Assert.Throws<InvalidOperationException>(() => new RainScheduler(rain));
    }
}

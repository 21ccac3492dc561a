using SelfAlign.Generation;
using SelfAlign.Models;
using Xunit;

namespace SelfAlign.Tests.Generation;

public class KvCellLedgerTests
{
    [Fact]
    public void UsedCellsCountSharedCellsOnceAndEqualWhatTheCacheCanNoLongerHold()
    {
        using var model = LlamaModel.Load(TestModels.TinyLlama);
        using var ctx = new LlamaContext(model, new ContextOptions { ContextSize = 512, MaxSequences = 8, BatchSize = 512 });
        using var batch = new TokenBatch(512, maxSequencesPerToken: 2);
        bool Feed(int seq, int from, int count)
        {
            batch.Clear();
            for (var i = 0; i < count; i++) batch.Add(7 + i % 50, from + i, seq, wantLogits: false);
            return ctx.TryDecode(batch);
        }

        Assert.True(Feed(0, 0, 100));
        ctx.CopySequence(0, 1, 0, 60); // a fork holds the same cells
        Assert.Equal(100, ctx.UsedCells);
        Assert.True(Feed(1, 60, 40));
        Assert.Equal(140, ctx.UsedCells);
        ctx.RemoveTokens(0, 80); // [80, 100) was sequence 0's alone
        Assert.Equal(120, ctx.UsedCells);
        ctx.RemoveTokens(0); // [0, 60) stays with sequence 1
        Assert.Equal(100, ctx.UsedCells);
        batch.Clear();
        batch.Add(5, 0, [2, 3], wantLogits: false); // one token of two sequences is one cell
        ctx.Decode(batch);
        Assert.Equal(101, ctx.UsedCells);
        ctx.RemoveTokens(2);
        Assert.Equal(101, ctx.UsedCells);

        // exactly the cells not counted are free, wherever the removals left them
        var free = ctx.ContextSize - ctx.UsedCells;
        Assert.False(Feed(4, 0, free + 1));
        Assert.Equal(101, ctx.UsedCells);
        Assert.True(Feed(4, 0, free));
        Assert.Equal(ctx.ContextSize, ctx.UsedCells);
        ctx.ClearCache();
        Assert.Equal(0, ctx.UsedCells);
    }

    [Fact]
    public void AGapInASequenceIsRefusedBeforeLlamaCppSeesIt()
    {
        using var model = LlamaModel.Load(TestModels.TinyLlama);
        using var ctx = new LlamaContext(model, new ContextOptions { ContextSize = 256, MaxSequences = 4 });
        using var batch = new TokenBatch(64);
        for (var i = 0; i < 20; i++) batch.Add(9, i, 0, wantLogits: false);
        ctx.Decode(batch);
        Assert.Throws<InvalidOperationException>(() => ctx.RemoveTokens(0, 5, 10));
        batch.Clear();
        batch.Add(9, 25, 0, wantLogits: false);
        Assert.Throws<InvalidOperationException>(() => ctx.Decode(batch));
        Assert.Equal(19, ctx.PositionMax(0)); // neither reached the cache
        Assert.Equal(20, ctx.UsedCells);
    }
}

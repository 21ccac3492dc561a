using System.Diagnostics;
using SelfAlign.Generation;
using SelfAlign.Models;
using Xunit;

namespace SelfAlign.Tests.Native;

public class LoadUnloadTests
{
    [Fact]
    public void RepeatedLoadsDoNotLeak()
    {
        // Warm up allocators and caches, then check that 30 more load/decode/free cycles do not grow memory.
        Cycle(5);
        var before = CurrentRssMb();
        Cycle(30);
        var grown = CurrentRssMb() - before;
        Assert.True(grown < 20, $"resident memory grew by {grown:F1} MB over 30 load/unload cycles");
    }

    [Fact]
    public void ContextKeepsModelAliveAfterModelDispose()
    {
        var model = LlamaModel.Load(TestModels.TinyLlama);
        var ctx = new LlamaContext(model, new ContextOptions { ContextSize = 256 });
        model.Dispose();
        using var batch = new TokenBatch(8);
        batch.Add(1, 0, 0, true);
        ctx.Decode(batch);
        Assert.Equal(ctx.VocabularySize, ctx.GetLogits(0).Length);
        ctx.Dispose();
    }

    private static void Cycle(int n)
    {
        for (var i = 0; i < n; i++)
        {
            using var model = LlamaModel.Load(TestModels.TinyLlama);
            using var ctx = new LlamaContext(model, new ContextOptions { ContextSize = 512 });
            using var batch = new TokenBatch(16);
            batch.Add(1, 0, 0, true);
            ctx.Decode(batch);
        }
        GC.Collect();
        GC.WaitForPendingFinalizers();
    }

    private static double CurrentRssMb()
    {
        var status = File.ReadAllLines("/proc/self/status").First(l => l.StartsWith("VmRSS:"));
        return double.Parse(status.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1]) / 1024.0;
    }
}

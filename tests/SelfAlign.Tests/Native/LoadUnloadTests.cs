using System.Diagnostics;
using SelfAlign.Generation;
using SelfAlign.Models;
using Xunit;

namespace SelfAlign.Tests.Native;

/// <summary>Runs alone (after the parallel tests): it reads the whole process's resident memory.</summary>
[CollectionDefinition(nameof(LoadUnloadTests), DisableParallelization = true)]
[Collection(nameof(LoadUnloadTests))]
public class LoadUnloadTests
{
    [Fact]
    public void RepeatedLoadsDoNotLeak()
    {
        // What one cycle costs when nothing is freed: a model, a context and a batch kept alive.
        Cycle(5);
        var before = CurrentRssMb();
        var leaked = Enumerable.Range(0, 3).Select(_ => Open()).ToList();
        var perLeakedCycle = (CurrentRssMb() - before) / leaked.Count;
        foreach (var (model, ctx, batch) in leaked) { batch.Dispose(); ctx.Dispose(); model.Dispose(); }

        // 30 freed cycles must together grow memory by less than one leaked cycle. A leak grows memory in every round;
        // after the parallel tests the allocator can still settle once, so the better of two rounds counts.
        Cycle(5);
        var rounds = new List<double>();
        for (var round = 0; round < 2; round++)
        {
            before = CurrentRssMb();
            Cycle(30);
            rounds.Add(CurrentRssMb() - before);
        }
        Assert.True(perLeakedCycle > 10, $"a leaked cycle costs only {perLeakedCycle:F2} MB: too little to tell a leak from noise");
        Assert.True(rounds.Min() < perLeakedCycle,
            $"resident memory grew by {rounds[0]:F1} and {rounds[1]:F1} MB over two rounds of 30 load/unload cycles; one leaked cycle costs {perLeakedCycle:F1} MB");
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

    private static (LlamaModel, LlamaContext, TokenBatch) Open()
    {
        var model = LlamaModel.Load(TestModels.WideLlama);
        var ctx = new LlamaContext(model, new ContextOptions { ContextSize = 512 });
        var batch = new TokenBatch(16);
        batch.Add(1, 0, 0, true);
        ctx.Decode(batch);
        return (model, ctx, batch);
    }

    private static void Cycle(int n)
    {
        for (var i = 0; i < n; i++)
        {
            var (model, ctx, batch) = Open();
            batch.Dispose();
            ctx.Dispose();
            model.Dispose();
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

using SelfAlign.Generation;
using SelfAlign.Models;
using Xunit;

namespace SelfAlign.Tests.Generation;

public class ForkRewindTests
{
    [Fact]
    public void ForkedThenRewoundSequenceGivesFreshDecodeLogits()
    {
        using var model = LlamaModel.Load(TestModels.TinyLlama);
        using var ctx = new LlamaContext(model, new ContextOptions { ContextSize = 512, MaxSequences = 4 });
        using var batch = new TokenBatch(64);
        var prompt = model.Vocabulary.Tokenize("the rules say to help");
        var branch = model.Vocabulary.Tokenize(" and never harm", addSpecial: false);

        // Fresh: prompt alone on sequence 0.
        for (var i = 0; i < prompt.Length; i++) batch.Add(prompt[i], i, 0, i == prompt.Length - 1);
        ctx.Decode(batch);
        var fresh = ctx.GetLogits(prompt.Length - 1).ToArray();

        // Fork into sequence 1, extend it with a branch, rewind the branch, then re-decode the last prompt token.
        ctx.CopySequence(0, 1);
        batch.Clear();
        for (var i = 0; i < branch.Length; i++) batch.Add(branch[i], prompt.Length + i, 1, i == branch.Length - 1);
        ctx.Decode(batch);
        Assert.Equal(prompt.Length + branch.Length - 1, ctx.PositionMax(1));
        ctx.RemoveTokens(1, prompt.Length - 1);
        Assert.Equal(prompt.Length - 2, ctx.PositionMax(1));
        batch.Clear();
        batch.Add(prompt[^1], prompt.Length - 1, 1, true);
        ctx.Decode(batch);
        var rewound = ctx.GetLogits(0).ToArray();

        for (var t = 0; t < fresh.Length; t++) Assert.True(Math.Abs(fresh[t] - rewound[t]) < 1e-4, $"token {t}: {fresh[t]} vs {rewound[t]}");
        Assert.Equal(prompt.Length - 1, ctx.PositionMax(0));
    }
}

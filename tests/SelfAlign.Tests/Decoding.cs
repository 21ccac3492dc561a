using SelfAlign.Generation;
using SelfAlign.Models;

namespace SelfAlign.Tests;

/// <summary>One prompt decoded in a fresh context, for tests that compare logits across models, adapters and settings.</summary>
public static class Decoding
{
    /// <summary>The logits after the last token of <paramref name="text"/>, with <paramref name="adapter"/> applied if given.</summary>
    public static float[] LastLogits(LlamaModel model, string text, LoraAdapter? adapter = null, ContextOptions? options = null)
    {
        using var ctx = new LlamaContext(model, options ?? new ContextOptions { ContextSize = 256, MaxSequences = 1 });
        if (adapter != null) ctx.SetLoraAdapters([(adapter, 1f)]);
        var tokens = model.Vocabulary.Tokenize(text);
        using var batch = new TokenBatch(64);
        for (var i = 0; i < tokens.Length; i++) batch.Add(tokens[i], i, 0, i == tokens.Length - 1);
        ctx.Decode(batch);
        return ctx.GetLogits(tokens.Length - 1).ToArray();
    }
}

using System.Numerics.Tensors;
using SelfAlign.Generation;
using SelfAlign.Models;
using SelfAlign.Rain;
using Xunit;

namespace SelfAlign.Tests.Rain;

/// <summary>
/// RAIN's similarity on a real llama.cpp model: each node's continuation is embedded as the unit mean of its tokens'
/// vectors, from the judge's own states or from a separate embedding GGUF pooled as it declares.
/// </summary>
[Trait("Category", "Slow")]
public class RainSimilarityTests
{
    private static readonly RainOptions Base = new() { MaxNewTokens = 12, Seed = 11, ContextSize = 4096 };

    [Fact]
    public void ModelSimilarityIsTheUnitMeanOfTheJudgeStatesOverEachContinuationAcrossReusedPrefixes()
    {
        using var model = LlamaModel.Load(TestModels.TinyLlama);
        using var rain = LlamaRainModel.OnOwnEngine(model, TestJudges.Harm, Base with { Similarity = RainSimilarity.Model }, []);
        IRainModel session = rain.Begin(model.Vocabulary.Tokenize("Tell me a story", addSpecial: true), "a story", Base);
        var answer = rain.AnswerTokens("a story", "Once upon a time there was a cat");
        Assert.True(answer.Length >= 6);
        session.Judge([answer[..4]]);
        session.Judge([answer]); // the first four tokens' states come from the first judgement
        var starts = new[] { 0, 2, answer.Length - 1, answer.Length };
        var embeddings = session.Embed(answer, starts);

        // the same states decoded from scratch in a context of their own
        using var ctx = new LlamaContext(model, new ContextOptions { ContextSize = 512, MaxSequences = 1, Embeddings = true });
        using var batch = new TokenBatch(512);
        var header = ((LlamaRainModel.Session)session).JudgeHeader;
        for (var i = 0; i < header.Length; i++) batch.Add(header[i], i, 0, false);
        for (var i = 0; i < answer.Length; i++) batch.Add(answer[i], header.Length + i, 0, true);
        ctx.Decode(batch);
        for (var k = 0; k < 3; k++)
        {
            var mean = new float[model.EmbeddingSize];
            for (var i = starts[k]; i < answer.Length; i++) TensorPrimitives.Add(mean, ctx.GetEmbedding(header.Length + i), mean);
            TensorPrimitives.Divide(mean, TensorPrimitives.Norm(mean), mean);
            Assert.Equal(1, TensorPrimitives.Norm(embeddings[k]), 4);
            Assert.True(TensorPrimitives.CosineSimilarity(mean, embeddings[k]) > 0.9999, $"start {starts[k]}");
        }
        Assert.True(TensorPrimitives.CosineSimilarity(embeddings[0], embeddings[2]) < 0.999, "different continuations embed differently");
        Assert.Null(embeddings[3]); // an empty continuation has no embedding
    }

    [Fact]
    public void SeparateEmbedderPoolsAsItsGgufDeclaresAndNormalises()
    {
        var shape = ModelShape.Preset("qwen2", "tiny");
        string Embedder(string name, uint? pooling)
        {
            var path = Path.Combine(TestModels.Directory, name + ".gguf");
            if (!File.Exists(path)) SyntheticModelBuilder.Write(path, new SyntheticModelBuilder.Options { Shape = shape, Seed = 21, InitScale = 0.5f, PoolingType = pooling });
            return path;
        }
        var pooled = Embedder("embedder-mean", 1);
        var unpooled = Embedder("embedder-none", null);

        using var model = LlamaModel.Load(TestModels.TinyLlama);
        IReadOnlyList<float[]?> Embed(string embedder)
        {
            using var rain = LlamaRainModel.OnOwnEngine(model, TestJudges.Harm, Base with { Similarity = RainSimilarity.EmbeddingModel, EmbeddingModelPath = embedder }, []);
            IRainModel session = rain.Begin(model.Vocabulary.Tokenize("Tell me a story", addSpecial: true), "a story", Base);
            var answer = rain.AnswerTokens("a story", "Once upon a time there was a cat");
            session.Judge([answer]);
            return session.Embed(answer, [0, 3, answer.Length]);
        }
        var a = Embed(pooled);
        var b = Embed(unpooled);
        for (var k = 0; k < 2; k++)
        {
            Assert.Equal(1, TensorPrimitives.Norm(a[k]), 4);
            // llama.cpp's mean pooling and the mean of the per-token vectors are the same vector
            Assert.True(TensorPrimitives.CosineSimilarity(a[k], b[k]) > 0.9999, $"continuation {k}");
        }
        Assert.True(TensorPrimitives.CosineSimilarity(a[0], a[1]) < 0.999);
        Assert.Null(a[2]);
    }
}

using SelfAlign.Data;
using SelfAlign.Generation;
using SelfAlign.Models;

namespace SelfAlign.Rain;

/// <summary>
/// What RAIN is timed against: plain sampling at the search's temperature and token budget, in a llama.cpp context
/// of its own (so the search's resident cells do not slow it). With its KV cache, or recomputing the whole context
/// for every token as the reference's baseline does; both draw the same stream under the same seed.
/// </summary>
internal sealed class RainVanillaBaseline : IDisposable
{
    private readonly LlamaContext _ctx;
    private readonly TokenBatch _batch;
    private readonly float[] _probabilities;

    public RainVanillaBaseline(LlamaModel model, RainOptions options, IReadOnlyList<(LoraAdapter Adapter, float Scale)> adapters)
    {
        _ctx = new LlamaContext(model, new ContextOptions
        {
            ContextSize = Math.Min(options.ContextSize, model.ContextLengthTrained), MaxSequences = 1, Threads = options.Threads,
            BatchSize = 512, LoraAdapters = adapters,
        });
        _batch = new TokenBatch(_ctx.BatchSize);
        _probabilities = new float[_ctx.VocabularySize];
    }

    /// <summary>One answer to <paramref name="prompt"/>, from an empty cache.</summary>
    public int[] Sample(int[] prompt, ulong seed, RainOptions o, bool useCache)
    {
        var vocabulary = _ctx.Model.Vocabulary;
        var random = Seeds.Random(seed);
        var answer = new List<int>();
        _ctx.ClearCache();
        var next = Decode(prompt, 0, o.Temperature, random);
        while (true)
        {
            answer.Add(next);
            if (vocabulary.IsEndOfGeneration(next) || answer.Count >= o.MaxNewTokens) break;
            if (o.StopStrings.Count > 0 && o.FindStop(vocabulary.Detokenize(answer.ToArray())) >= 0) break;
            if (useCache) next = Decode([next], prompt.Length + answer.Count - 1, o.Temperature, random);
            else
            {
                _ctx.ClearCache();
                next = Decode([.. prompt, .. answer], 0, o.Temperature, random);
            }
        }
        return answer.ToArray();
    }

    /// <summary>Decodes <paramref name="tokens"/> from <paramref name="position"/> and samples the next token from the full distribution.</summary>
    private int Decode(int[] tokens, int position, float temperature, Random random)
    {
        for (var start = 0; start < tokens.Length; start += _batch.Capacity)
        {
            _batch.Clear();
            var end = Math.Min(tokens.Length, start + _batch.Capacity);
            for (var i = start; i < end; i++) _batch.Add(tokens[i], position + i, 0, i == tokens.Length - 1);
            _ctx.Decode(_batch);
        }
        LogitMath.Softmax(_ctx.GetLogits(_batch.Count - 1), temperature, _probabilities);
        return LlamaRainModel.Draw(_probabilities, null, random);
    }

    public void Dispose()
    {
        _batch.Dispose();
        _ctx.Dispose();
    }
}

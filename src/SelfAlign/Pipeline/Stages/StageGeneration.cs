using SelfAlign.Data;
using SelfAlign.Generation;
using SelfAlign.Models;

namespace SelfAlign.Pipeline;

/// <summary>Helpers the generation stages share: sampling settings and results delivered in request order.</summary>
internal static class StageGeneration
{
    /// <summary>A stage's sampling settings for this model, made once per stage; each request adds its own seed.</summary>
    /// <param name="s">the stage's sampling settings.</param>
    /// <param name="vocabulary">the model's vocabulary.</param>
    /// <param name="banEndOfText">never end the text (lists are cut by their stop strings).</param>
    /// <param name="follows">the end of the prompt: banned words are banned as the vocabulary writes them after it.</param>
    public static SamplingOptions Sampling(StageSampling s, Vocabulary vocabulary, bool banEndOfText, string follows = "") => new()
    {
        Temperature = s.Temperature, TopP = s.TopP, NGramPenalties = s.NgramPenalties,
        // Dromedary's n-gram penalties lower word-initial tokens only
        NGramPenaltyTokens = s.NgramPenalties.Any(p => p != 0) ? vocabulary.WordStarts : null,
        BannedTokens = vocabulary.FirstTokensAfter(PromptEnd(follows), s.BannedFirstTokens)
            .Concat(banEndOfText ? [vocabulary.Eos] : []).Where(t => t >= 0).Distinct().ToList(),
    };

    /// <summary>The last line of a prompt: all of it that changes how the next word is tokenized, and cheap to tokenize per request.</summary>
    private static string PromptEnd(string prompt) => prompt[(prompt.TrimEnd('\n').LastIndexOf('\n') + 1)..];

    /// <summary>A seed for one request that does not depend on which requests ran before it.</summary>
    public static ulong Seed(ulong runSeed, string stage, long index) =>
        (runSeed * 0x9E3779B97F4A7C15UL) ^ Seeds.Hash(stage) ^ ((ulong)index * 0xBF58476D1CE4E5B9UL);

    /// <summary>
    /// A seed for answering one question, from its text: the same question gets the same seed wherever it lands in a
    /// shuffled prompt list, so one prompt that differs upstream does not reseed every answer after it.
    /// </summary>
    public static ulong Seed(ulong runSeed, string stage, string question) => Seed(runSeed, stage, unchecked((long)Seeds.Hash(question)));

    /// <summary>Generates every request (batched) and hands results to <paramref name="onResult"/> in list order.</summary>
    public static async Task InOrderAsync(ITextGenerator engine, IReadOnlyList<GenerationRequest> requests, Action<int, GenerationResult> onResult, CancellationToken ct)
    {
        var ready = new Dictionary<int, GenerationResult>();
        var next = 0;
        await foreach (var (i, result) in engine.GenerateBatchAsync(requests, ct))
        {
            ready[i] = result;
            while (ready.Remove(next, out var r)) onResult(next++, r);
        }
    }

    public static Random Random(ulong runSeed, string stage, long index) => new(unchecked((int)Seed(runSeed, stage, index)));
}

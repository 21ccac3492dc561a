using System.Diagnostics;
using SelfAlign.Data;
using SelfAlign.Generation;
using SelfAlign.Models;
using SelfAlign.Pipeline;

namespace SelfAlign.Benchmarks;

/// <summary>
/// The Self-Align figures: ROUGE-L de-duplication of many generated instructions, and stage 2's throughput with the
/// principles prompt shared against re-evaluated for every request (same model, requests and sampling).
/// </summary>
public static class AlignBenchmark
{
    /// <summary>One de-duplication run: instructions offered, kept, exact LCS computed, seconds.</summary>
    public sealed record Dedup(int Instructions, int Kept, long LcsComputed, double Seconds);

    public sealed record Result(
        IReadOnlyList<Dedup> Dedup, int Stage2Requests, int PrefixTokens, double SharedSeconds, double UnsharedSeconds, double Stage2Speedup);

    /// <summary>The paper's count of generated self-instruct instructions.</summary>
    public const int PaperInstructions = 267_597;

    /// <summary>Runs both measurements; <paramref name="dataDirectory"/> holds principles.yaml, exemplars.yaml and prompts.yaml (data/selfalign).</summary>
    public static Result Run(LlamaModel model, string dataDirectory, IReadOnlyList<int>? dedupSizes = null, int requests = 16, int maxNewTokens = 64, Action<string>? log = null)
    {
        var dedup = new List<Dedup>();
        foreach (var instructions in dedupSizes ?? [20_000, 80_000, PaperInstructions])
        {
            log?.Invoke($"de-duplicating {instructions:N0} instructions");
            var texts = SyntheticInstructions(instructions, seed: 1);
            var pool = new InstructionPool(0.7);
            var clock = Stopwatch.StartNew();
            var kept = texts.Count(pool.TryAdd);
            dedup.Add(new Dedup(instructions, kept, pool.LcsComputed, clock.Elapsed.TotalSeconds));
            log?.Invoke($"kept {kept:N0} of {instructions:N0} in {clock.Elapsed.TotalSeconds:F1} s ({pool.LcsComputed:N0} exact LCS computed)");
        }

        var templates = PromptTemplates.Load(Path.Combine(dataDirectory, "prompts.yaml"));
        var prefix = AlignData.SelfAlignPrompt(templates, AlignData.Principles(Path.Combine(dataDirectory, "principles.yaml")),
            AlignData.Exemplars(Path.Combine(dataDirectory, "exemplars.yaml")));
        var questions = SyntheticInstructions(requests, seed: 2);
        var prefixTokens = model.Vocabulary.Tokenize(prefix).Length;
        // room for every request's own copy of the prefix when it is not shared
        var cells = Math.Min(65536, (requests + 1) * (prefixTokens + maxNewTokens + 128));
        double Stage2(bool share)
        {
            log?.Invoke($"stage 2, {requests} requests, principles prompt {(share ? "shared" : "re-evaluated per request")}");
            using var engine = new GenerationEngine(model, new EngineOptions
            {
                Context = new ContextOptions { ContextSize = cells, MaxSequences = requests + 1 }, PrefixSharing = share,
            });
            var batch = questions.Select((q, i) => new GenerationRequest
            {
                SharedPrefix = prefix, Prompt = TextTemplate.Fill(templates.Question, ("question", q)), MaxNewTokens = maxNewTokens,
                StopStrings = templates.AnswerStop, StopAtEndOfGeneration = false,
                Sampling = new SamplingOptions { Temperature = 0.5f, TopP = 0.95f, Seed = (ulong)i },
            }).ToList();
            var watch = Stopwatch.StartNew();
            foreach (var _ in engine.GenerateBatchAsync(batch).ToBlockingEnumerable()) { }
            return watch.Elapsed.TotalSeconds;
        }
        var shared = Stage2(share: true);
        var unshared = Stage2(share: false);
        return new Result(dedup, requests, prefixTokens, shared, unshared, unshared / shared);
    }

    /// <summary>Instruction-like texts over a 3,000-word vocabulary with Zipf-like word frequencies, a fifth of them near-copies of earlier ones.</summary>
    public static List<string> SyntheticInstructions(int count, int seed)
    {
        var rng = new Random(seed);
        var words = Enumerable.Range(0, 3000).Select(i => $"w{i}").ToArray();
        string Word() => words[(int)Math.Min(words.Length - 1, Math.Floor(Math.Pow(rng.NextDouble(), 3) * words.Length))];
        var list = new List<string>(count);
        for (var i = 0; i < count; i++)
        {
            if (list.Count > 0 && rng.NextDouble() < 0.2)
            {
                var copy = list[rng.Next(list.Count)].Split(' ');
                copy[rng.Next(copy.Length)] = Word();
                list.Add(string.Join(' ', copy));
            }
            else list.Add(string.Join(' ', Enumerable.Range(0, rng.Next(6, 25)).Select(_ => Word())));
        }
        return list;
    }
}

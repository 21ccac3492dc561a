using System.Diagnostics;
using SelfAlign.Evaluation;
using SelfAlign.Generation;
using SelfAlign.Models;

namespace SelfAlign.Benchmarks;

/// <summary>Figures of <see cref="EvalBenchmark.RunAsync"/>; names match the JSON keys of <c>selfalign bench eval</c>.</summary>
/// <param name="UniqueTokens">the task's distinct text in tokens: each distinct context of a call once, and every continuation.</param>
/// <param name="EvaluatedTokens">what the engine decoded (no continuation's last token: nothing reads what follows it).</param>
/// <param name="PrefillTokensPerS">the median of ten prefill readings, five before scoring and five after (the machine's speed drifts).</param>
/// <param name="HarnessQuestions">the questions scored one forward pass per candidate too (the first ones; it is the slow way).</param>
/// <param name="HarnessTokens">what one forward pass per candidate evaluates for them: every context and continuation in full.</param>
/// <param name="HarnessVsShared">the time per question of one forward pass per candidate over that of shared contexts.</param>
public sealed record EvalBenchmarkResult(
    int Questions, int Mc1Candidates, int Mc2Candidates, int ScoringRequests, long UniqueTokens, long EvaluatedTokens, long DecodeCalls,
    double PrefillTokensPerS, double PrefillMinTokensPerS, double PrefillMaxTokensPerS,
    double SharedSeconds, double SharedUniqueTokensPerS, double SharedEvaluatedTokensPerS, double SharedVsPrefill,
    int HarnessQuestions, long HarnessTokens, double HarnessSeconds, double HarnessTokensPerS, double HarnessVsShared, double PeakRssMb);

/// <summary>
/// TruthfulQA's multiple-choice task at its size (817 questions; 4,186 MC1 and 6,204 MC2 candidates), synthetic, scored
/// as <c>selfalign eval</c> scores it (MC1, MC2 and the true/false ranking, eight questions per engine call): the rate in
/// unique tokens per second against the engine's prefill rate, and the time per question against the first questions'
/// requests scored one full forward pass per candidate (how harness-style evaluation does it: the engine with context
/// sharing off).
/// </summary>
public static class EvalBenchmark
{
    public sealed record Options
    {
        public int Questions { get; init; } = 817;
        public int Mc1Candidates { get; init; } = 4186;
        public int Mc2Candidates { get; init; } = 6204;
        public int BatchItems { get; init; } = new EvalOptions { Suites = [] }.BatchItems;
        public ContextOptions Context { get; init; } = new();
        public int Seed { get; init; } = 1;
        /// <summary>Questions also scored one forward pass per candidate; all when larger than <see cref="Questions"/>.</summary>
        public int HarnessQuestions { get; init; } = int.MaxValue;
    }

    public static async Task<EvalBenchmarkResult> RunAsync(LlamaModel model, Options o, Action<string>? progress = null, CancellationToken ct = default)
    {
        var questions = SyntheticTask(o);
        progress?.Invoke("prefill");
        var prefill = PrefillReadings(model, o.Context);

        progress?.Invoke("scoring with shared contexts");
        var calls = new List<IReadOnlyList<ScoringRequest>>();
        var (unique, harness, evaluated, decodes) = (0L, 0L, 0L, 0L);
        var clock = new Stopwatch();
        var harnessCalls = new List<IReadOnlyList<ScoringRequest>>();
        var harnessQuestions = 0;
        using (var engine = new GenerationEngine(model, new EngineOptions { Context = o.Context }))
        {
            var recorder = new RecordingScorer(engine, calls, clock);
            var scorer = new MultipleChoiceScorer(recorder, EvalPrompts.Default, seed: 1);
            foreach (var chunk in questions.Chunk(o.BatchItems))
            {
                var first = calls.Count;
                await scorer.TruthfulQaAsync(chunk, ct);
                if (harnessQuestions >= o.HarnessQuestions) continue;
                harnessQuestions += chunk.Length;
                harnessCalls.AddRange(calls[first..]);
            }
            (decodes, evaluated) = engine.Statistics;
            foreach (var call in calls)
            {
                var contexts = call.Select(r => r.Context).Distinct().ToDictionary(c => c, c => (long)model.Vocabulary.Tokenize(c).Length);
                var continuations = call.Sum(r => (long)model.Vocabulary.Tokenize(r.Context + r.Continuation).Length - contexts[r.Context]);
                unique += contexts.Values.Sum() + continuations;
                if (harnessCalls.Contains(call)) harness += call.Sum(r => contexts[r.Context]) + continuations;
            }
        }
        var shared = clock.Elapsed.TotalSeconds;
        progress?.Invoke("prefill again");
        prefill.AddRange(PrefillReadings(model, o.Context));
        var prefillRate = Median(prefill);

        progress?.Invoke($"scoring one forward pass per candidate ({harnessQuestions} questions)");
        clock.Reset();
        using (var engine = new GenerationEngine(model, new EngineOptions { Context = o.Context, PrefixSharing = false }))
            foreach (var call in harnessCalls)
            {
                clock.Start();
                await engine.ScoreAsync(call, ct);
                clock.Stop();
            }
        var perCandidate = clock.Elapsed.TotalSeconds;

        return new EvalBenchmarkResult(questions.Count, questions.Sum(q => q.Mc1.Count), questions.Sum(q => q.Mc2.Count), calls.Sum(c => c.Count),
            unique, evaluated, decodes, prefillRate, prefill.Min(), prefill.Max(), shared, unique / shared, evaluated / shared, unique / shared / prefillRate,
            harnessQuestions, harness, perCandidate, harness / perCandidate, perCandidate / harnessQuestions / (shared / questions.Count),
            Process.GetCurrentProcess().PeakWorkingSet64 / 1048576.0);
    }

    private static double Median(List<double> values)
    {
        var sorted = values.Order().ToList();
        return (sorted[(sorted.Count - 1) / 2] + sorted[sorted.Count / 2]) / 2;
    }

    /// <summary>Scores through the engine, keeping each call's requests and the time spent in calls.</summary>
    private sealed class RecordingScorer(GenerationEngine engine, List<IReadOnlyList<ScoringRequest>> calls, Stopwatch clock) : ITextScorer
    {
        public async Task<IReadOnlyList<ScoreResult>> ScoreAsync(IReadOnlyList<ScoringRequest> requests, CancellationToken cancellationToken = default)
        {
            calls.Add(requests);
            clock.Start();
            try { return await engine.ScoreAsync(requests, cancellationToken); }
            finally { clock.Stop(); }
        }
    }

    private static readonly string[] Words =
    [
        "the", "a", "people", "water", "moon", "year", "city", "doctor", "law", "food", "country", "animal", "common", "true", "often", "said",
        "never", "always", "because", "when", "what", "happens", "if", "you", "eat", "swallow", "break", "mirror", "cold", "weather", "cause",
        "science", "shows", "there", "is", "no", "evidence", "that", "it", "will", "can", "most", "many", "some", "only", "in", "of", "on",
        "from", "to", "with", "by", "your", "body", "brain", "percent", "history", "famous", "wrote", "invented", "light", "bulb", "color",
        "red", "bull", "sleep", "night", "hair", "grow", "after", "death", "nothing", "special", "bad", "luck", "seven", "years", "digest",
    ];

    /// <summary>Questions of 6–17 words; MC1 and MC2 candidates of 3–15 words (TruthfulQA's lengths), MC2 holding MC1's candidates and more.</summary>
    private static List<TruthfulQaQuestion> SyntheticTask(Options o)
    {
        var rng = new Random(o.Seed);
        string Text(int min, int max) => string.Join(' ', Enumerable.Range(0, rng.Next(min, max + 1)).Select(_ => Words[rng.Next(Words.Length)]));
        return Enumerable.Range(0, o.Questions).Select(i =>
        {
            // spread the totals as evenly as counts allow
            var mc1Count = o.Mc1Candidates * (i + 1) / o.Questions - o.Mc1Candidates * i / o.Questions;
            var mc2Count = Math.Max(mc1Count, o.Mc2Candidates * (i + 1) / o.Questions - o.Mc2Candidates * i / o.Questions);
            var mc1 = Enumerable.Range(0, mc1Count).Select(k => new McCandidate(Text(3, 15), k == 0)).ToList();
            var mc2 = mc1.Concat(Enumerable.Range(0, mc2Count - mc1Count).Select(k => new McCandidate(Text(3, 15), k % 2 == 0))).ToList();
            return new TruthfulQaQuestion($"q{i}", Text(6, 17) + "?", mc1, mc2);
        }).ToList();
    }

    private static List<double> PrefillReadings(LlamaModel model, ContextOptions options) => EngineBenchmark.PrefillReadings(model, options,
        model.Vocabulary.Tokenize(string.Join(' ', Enumerable.Range(0, 4 * options.BatchSize).Select(i => Words[i * 7 % Words.Length]))), 5);
}

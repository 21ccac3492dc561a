using SelfAlign.Data;
using SelfAlign.Generation;
using SelfAlign.Rain;

namespace SelfAlign.Testbed;

/// <summary>A rate with its 95% Wilson confidence interval.</summary>
public sealed record Rate(double Value, double Low, double High, int Count, int Total)
{
    public static Rate Of(int count, int total)
    {
        if (total == 0) return new Rate(double.NaN, double.NaN, double.NaN, 0, 0);
        const double z = 1.96;
        var p = (double)count / total;
        var denominator = 1 + z * z / total;
        var centre = (p + z * z / (2 * total)) / denominator;
        var half = z * Math.Sqrt(p * (1 - p) / total + z * z / (4.0 * total * total)) / denominator;
        return new Rate(p, Math.Max(0, centre - half), Math.Min(1, centre + half), count, total);
    }

    /// <summary>The form the demo's JSON and <c>testbed ... --json</c> write (the report reads value, interval and n).</summary>
    public System.Text.Json.Nodes.JsonObject ToJson() => new() { ["value"] = Value, ["ci95_low"] = Low, ["ci95_high"] = High, ["count"] = Count, ["n"] = Total };
}

public enum TestbedDecoder { Greedy, Sample, Rain }

public sealed record TestbedEvalOptions
{
    /// <summary>Held-out requests per kind (harmful, benign).</summary>
    public int N { get; init; } = 300;
    /// <summary>Seed of the evaluation requests (and of sampling).</summary>
    public int Seed { get; init; } = 1000;
    /// <summary>Text placed before every question (principles and examples); null asks plainly.</summary>
    public string? PrinciplesPrefix { get; init; }
    /// <summary>Ask behind the verbose meta prompt instead of plainly (greedy or sampled; not with principles or RAIN).</summary>
    public bool VerbosePrompt { get; init; }
    public TestbedDecoder Decoder { get; init; } = TestbedDecoder.Greedy;
    /// <summary>Sampling temperature; 1.0 is RAIN's, so "sample" is the vanilla baseline RAIN is compared with.</summary>
    public float Temperature { get; init; } = 1.0f;
    /// <summary>RAIN's settings for <see cref="TestbedDecoder.Rain"/> (stop, budget and seed are set by the evaluator).</summary>
    public RainOptions Rain { get; init; } = new();
    /// <summary>Reviews scored for the judge accuracy (each in both option orders).</summary>
    public int JudgeItems { get; init; } = 200;
}

public sealed record TestbedEvalResult(
    Rate HarmfulRate, Rate HelpfulRate, Rate RefusalRateBenign, Rate JudgeAccuracy, double MeanAnswerWords, double Seconds,
    IReadOnlyList<(string Request, string Answer)> Samples)
{
    /// <summary>With the RAIN decoder: the summed search statistics.</summary>
    public RainStatistics? RainStatistics { get; init; }
    /// <summary>
    /// With the RAIN decoder: wall time of every request searched at once over the same requests answered by batched
    /// vanilla sampling (same budget and stops).
    /// </summary>
    public double? TimeRatio { get; init; }
}

/// <summary>Measures a model of the testbed world against the ground truth on held-out requests.</summary>
public static class TestbedEvaluator
{
    public static async Task<TestbedEvalResult> RunAsync(GenerationEngine engine, TestbedEvalOptions o, CancellationToken ct = default)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var harmful = TestbedRequests.Generate(true, o.N, o.Seed);
        var benign = TestbedRequests.Generate(false, o.N, o.Seed);
        var requests = harmful.Concat(benign).ToList();
        var sampling = o.Decoder == TestbedDecoder.Greedy ? SamplingOptions.Greedy : new SamplingOptions { Temperature = o.Temperature, Seed = (ulong)o.Seed };
        if (o.VerbosePrompt && (o.PrinciplesPrefix is not null || o.Decoder == TestbedDecoder.Rain))
            throw new InvalidInputException("the verbose prompt is asked without principles and without RAIN");
        var asking = Asking.Of(o);
        var genRequests = requests.Select((r, i) => new GenerationRequest
        {
            SharedPrefix = o.PrinciplesPrefix,
            Prompt = asking.Prompt(r),
            MaxNewTokens = asking.MaxNewTokens,
            StopStrings = asking.StopStrings,
            Sampling = sampling with { Seed = sampling.Seed + (ulong)i },
        }).ToList();
        var answers = new string[requests.Count];
        RainStatistics? rainStatistics = null;
        double? ratio = null;
        if (o.Decoder == TestbedDecoder.Rain)
        {
            rainStatistics = await Task.Run(() => AnswerWithRain(engine.Model, engine.Options.Context.LoraAdapters, o, requests, answers, ct), ct);
            // the same requests by batched vanilla sampling at the same temperature, timed against the search
            var vanilla = System.Diagnostics.Stopwatch.StartNew();
            var samples = genRequests.Select(r => r with { Sampling = new SamplingOptions { Temperature = o.Temperature, Seed = r.Sampling.Seed } }).ToList();
            await foreach (var _ in engine.GenerateBatchAsync(samples, ct)) { }
            ratio = rainStatistics.Seconds / Math.Max(1e-9, vanilla.Elapsed.TotalSeconds);
        }
        else
            await foreach (var (i, result) in engine.GenerateBatchAsync(genRequests, ct)) answers[i] = TestbedPrompts.ExtractAnswer(result.Text);

        var harmfulCount = Enumerable.Range(0, harmful.Count).Count(i => GroundTruth.IsHarmfulAnswer(answers[i]));
        var helpful = Enumerable.Range(0, benign.Count).Count(i => GroundTruth.Helps(benign[i], answers[harmful.Count + i]));
        var refused = Enumerable.Range(0, benign.Count).Count(i => GroundTruth.IsRefusal(answers[harmful.Count + i]));
        var judge = await JudgeAccuracyAsync(engine, o, ct);
        return new TestbedEvalResult(
            Rate.Of(harmfulCount, harmful.Count), Rate.Of(helpful, benign.Count), Rate.Of(refused, benign.Count), judge,
            answers.Average(a => a.Split(' ', StringSplitOptions.RemoveEmptyEntries).Length), clock.Elapsed.TotalSeconds,
            requests.Zip(answers).Take(3).Concat(requests.Zip(answers).Skip(harmful.Count).Take(3)).ToList())
        {
            RainStatistics = rainStatistics, TimeRatio = ratio,
        };
    }

    /// <summary>Answers every request with RAIN, all searched at once; returns the batch's statistics (its wall time included).</summary>
    private static RainStatistics AnswerWithRain(Models.LlamaModel model, IReadOnlyList<(Models.LoraAdapter, float)> adapters, TestbedEvalOptions o,
        List<string> requests, string[] answers, CancellationToken ct)
    {
        var prefix = o.PrinciplesPrefix ?? "";
        var asking = Asking.Of(o);
        var options = o.Rain with { StopStrings = asking.StopStrings, MaxNewTokens = asking.MaxNewTokens, Temperature = o.Temperature };
        using var rain = new RainDecoder(model, TestbedPrompts.Judge, options, adapters);
        var prompts = requests.Select((r, i) => new RainPrompt(prefix + asking.Prompt(r), r, (ulong)(o.Seed + i))).ToList();
        var batch = rain.GenerateMany(prompts, cancellationToken: ct);
        for (var i = 0; i < requests.Count; i++) answers[i] = TestbedPrompts.ExtractAnswer(batch.Answers[i].Text);
        return batch.Total;
    }

    /// <summary>How each request is put to the model (after the principles, if any): its prompt, answer budget and stops.</summary>
    private sealed record Asking(Func<string, string> Prompt, int MaxNewTokens, string[] StopStrings)
    {
        public static Asking Of(TestbedEvalOptions o) =>
            o.VerbosePrompt ? new(TestbedPrompts.Verbose, 80, ["\n\n"])
            : o.PrinciplesPrefix is null ? new(TestbedPrompts.Plain, 40, ["\n\n"])
            : new(TestbedPrompts.PrincipledQuestion, 72, ["\n\n### User", "\n\n# "]);
    }

    /// <summary>The model's own verdict ("A" or "B", read from the label log-probabilities) against the truth, both option orders.</summary>
    private static async Task<Rate> JudgeAccuracyAsync(GenerationEngine engine, TestbedEvalOptions o, CancellationToken ct)
    {
        var items = TestbedRequests.Generate(true, o.JudgeItems / 2, o.Seed + 1).Concat(TestbedRequests.Generate(false, o.JudgeItems / 2, o.Seed + 1))
            .Select((request, i) =>
            {
                var (verb, obj) = GroundTruth.ParseRequest(request)!.Value;
                var answer = i % 2 == 0 ? TestbedWorld.Compliance(verb, obj) : TestbedWorld.RefusalPhrasings[i / 2 % TestbedWorld.RefusalPhrasings.Count];
                return (request, answer, harmful: GroundTruth.IsHarmfulAnswer(answer));
            }).ToList();
        var scoring = new List<ScoringRequest>();
        foreach (var (request, answer, _) in items)
            foreach (var yesFirst in new[] { true, false })
            {
                var context = TestbedJudge.Prefix + TestbedJudge.Render(request, answer, yesFirst);
                scoring.Add(new ScoringRequest(context, " A"));
                scoring.Add(new ScoringRequest(context, " B"));
            }
        var scores = await engine.ScoreAsync(scoring, ct);
        var correct = 0;
        for (var i = 0; i < items.Count; i++)
            for (var order = 0; order < 2; order++)
            {
                var yesFirst = order == 0;
                var k = (i * 2 + order) * 2;
                var saysA = scores[k].LogProbability > scores[k + 1].LogProbability;
                var saysHarmful = saysA == yesFirst;
                if (saysHarmful == items[i].harmful) correct++;
            }
        return Rate.Of(correct, items.Count * 2);
    }
}

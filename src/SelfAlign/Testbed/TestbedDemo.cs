using System.Text.Json;
using System.Text.Json.Nodes;
using SelfAlign.Evaluation.Report;
using SelfAlign.Generation;
using SelfAlign.Models;
using SelfAlign.Pipeline;

namespace SelfAlign.Testbed;

/// <summary>Settings of <see cref="TestbedDemo.RunAsync"/>.</summary>
public sealed record TestbedDemoOptions
{
    /// <summary>The Self-Align run to demonstrate (its base model is normally "testbed:clean").</summary>
    public required string ConfigPath { get; init; }
    /// <summary>Where the run and the evaluations are written; a second demo resumes the run.</summary>
    public required string OutputDirectory { get; init; }
    /// <summary>Where the run finds "testbed:LEVEL" base models.</summary>
    public IBaseModelSource? BaseModels { get; init; }
    /// <summary>Held-out requests per kind in each greedy evaluation.</summary>
    public int Requests { get; init; } = 100;
    /// <summary>Held-out requests per kind for the vanilla-sampling-against-RAIN comparison.</summary>
    public int RainRequests { get; init; } = 50;
}

/// <summary>One measured setting: a model, how it was asked, and its figures against the ground truth.</summary>
public sealed record TestbedMeasurement(string Setting, string Model, bool Principled, TestbedDecoder Decoder, TestbedEvalResult Result)
{
    /// <summary>The form the demo's evaluations.json and <c>testbed eval --json</c> write.</summary>
    public JsonObject ToJson()
    {
        var r = Result;
        var row = new JsonObject
        {
            ["setting"] = Setting, ["model"] = Model, ["principled"] = Principled, ["decoder"] = Decoder.ToString().ToLowerInvariant(),
            ["harmful_rate"] = r.HarmfulRate.ToJson(), ["helpful_rate"] = r.HelpfulRate.ToJson(),
            ["refusal_rate_benign"] = r.RefusalRateBenign.ToJson(), ["judge_accuracy"] = r.JudgeAccuracy.ToJson(),
            ["mean_answer_words"] = r.MeanAnswerWords, ["seconds"] = r.Seconds,
        };
        if (r.RainStatistics is { } s)
        {
            row["time_ratio"] = r.TimeRatio;
            row["rain"] = new JsonObject
            {
                ["iterations"] = s.Iterations, ["rounds"] = s.Rounds, ["commits"] = s.Commits, ["evaluations"] = s.Evaluations,
                ["evaluation_cache_hits"] = s.EvaluationCacheHits, ["decode_calls"] = s.DecodeCalls, ["tokens_decoded"] = s.TokensDecoded,
                ["extension_tokens"] = s.ExtensionTokens, ["judged_answer_tokens"] = s.JudgedAnswerTokens, ["judge_suffix_tokens"] = s.JudgeSuffixTokens,
                ["similarity_credits"] = s.SimilarityCredits, ["child_additions_tried"] = s.ChildAdditionsTried, ["children_added"] = s.ChildrenAdded,
                ["decode_seconds"] = s.DecodeSeconds, ["extend_seconds"] = s.ExtendSeconds, ["judge_seconds"] = s.JudgeSeconds, ["seconds"] = s.Seconds,
            };
        }
        return row;
    }
}

/// <summary>What the demo reports: an evaluation starting (<see cref="Evaluating"/>), or the Self-Align run's own progress.</summary>
public sealed record TestbedDemoProgress(string? Evaluating, AlignProgress? Run);

/// <summary>What the demo measured and wrote.</summary>
/// <param name="Suites">the evaluation suites' HHH accuracy and harm judge against the ground truth, on the base model.</param>
public sealed record TestbedDemoResult(string Model, AlignRunStatus SelfAlign, IReadOnlyList<TestbedMeasurement> Rows, TestbedSuitesResult Suites, IReadOnlyList<string> Outputs);

/// <summary>
/// The demonstration on the testbed: the base model measured plainly and with the principles in its prompt; the four
/// Self-Align stages run on it and the engraved and verbose-cloned models measured; vanilla sampling against RAIN; the
/// evaluation suites' judges against the ground truth.
/// </summary>
public static class TestbedDemo
{
    private const string SuitesSetting = "base model: suites vs truth";

    private static GenerationEngine NewEngine(LlamaModel model) =>
        new(model, new EngineOptions { Context = new ContextOptions { ContextSize = 8192, MaxSequences = 33 } });

    public static async Task<TestbedDemoResult> RunAsync(string baseModelPath, TestbedDemoOptions o, IProgress<TestbedDemoProgress>? progress = null,
        CancellationToken cancellationToken = default)
    {
        Directory.CreateDirectory(o.OutputDirectory);
        var rows = new List<TestbedMeasurement>();
        async Task Evaluate(string setting, string path, string? principles, TestbedDecoder decoder, int count)
        {
            progress?.Report(new TestbedDemoProgress(setting, null));
            using var model = LlamaModel.Load(path);
            using var engine = NewEngine(model);
            var r = await TestbedEvaluator.RunAsync(engine, new TestbedEvalOptions { N = count, PrinciplesPrefix = principles, Decoder = decoder }, cancellationToken);
            rows.Add(new TestbedMeasurement(setting, path, principles is not null, decoder, r));
        }

        await Evaluate("base model, plain prompt", baseModelPath, null, TestbedDecoder.Greedy, o.Requests);
        await Evaluate("base model + principles in prompt", baseModelPath, TestbedPrompts.DefaultPrinciples, TestbedDecoder.Greedy, o.Requests);

        progress?.Report(new TestbedDemoProgress(SuitesSetting, null));
        TestbedSuitesResult suites;
        using (var model = LlamaModel.Load(baseModelPath))
        using (var engine = NewEngine(model))
            suites = await TestbedSuites.MeasureAsync(engine, baseModelPath, Path.Combine(o.OutputDirectory, "suites"),
                new TestbedSuitesOptions { Requests = Math.Max(1, o.Requests / 2) }, ct: cancellationToken);

        // Self-Align: the four stages, resumed if an earlier demo ran them
        var runDir = Path.Combine(o.OutputDirectory, "align");
        await new AlignRun(AlignConfig.Load(o.ConfigPath), runDir).RunAsync(new AlignRunOptions { BaseModels = o.BaseModels, RedoChanged = true },
            new InlineProgress<AlignProgress>(a => progress?.Report(new TestbedDemoProgress(null, a))), cancellationToken);
        var status = AlignRun.Status(runDir);
        await Evaluate("Self-Align: engraved model", status.EngravedModel!, null, TestbedDecoder.Greedy, o.Requests);
        await Evaluate("Self-Align: verbose-cloned model", status.VerboseModel!, null, TestbedDecoder.Greedy, o.Requests);

        // RAIN against vanilla sampling with the same settings, on the base model
        await Evaluate("base model, vanilla sampling", baseModelPath, null, TestbedDecoder.Sample, o.RainRequests);
        await Evaluate("base model, RAIN", baseModelPath, null, TestbedDecoder.Rain, o.RainRequests);

        var indented = new JsonSerializerOptions { WriteIndented = true };
        var evaluations = Path.Combine(o.OutputDirectory, "evaluations.json");
        File.WriteAllText(evaluations, new JsonArray([.. rows.Select(r => (JsonNode)r.ToJson())]).ToJsonString(indented));
        var suitesJson = Path.Combine(o.OutputDirectory, "suites.json");
        var suitesRow = suites.ToJson();
        suitesRow.Insert(0, "setting", SuitesSetting);
        File.WriteAllText(suitesJson, new JsonArray(suitesRow).ToJsonString(indented));
        var report = Path.Combine(o.OutputDirectory, "report.html");
        HtmlReport.Write(report, [.. ReportSources.Read(evaluations), .. ReportSources.Read(suitesJson)],
            "SelfAlign demo on the testbed: base, principles, Self-Align, vanilla and RAIN, and the suites' judges against the ground truth");
        return new TestbedDemoResult(baseModelPath, status, rows, suites, [baseModelPath, runDir, evaluations, suitesJson, report]);
    }
}

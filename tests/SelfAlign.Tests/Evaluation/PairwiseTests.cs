using System.Text.Json.Nodes;
using SelfAlign.Data;
using SelfAlign.Evaluation;
using SelfAlign.Generation;
using SelfAlign.Models;
using SelfAlign.Tests.Cli;
using Xunit;

namespace SelfAlign.Tests.Evaluation;

/// <summary>The pairwise suite on a small random-weight model: turns answered with their history, both positions judged, outcomes counted.</summary>
public sealed class PairwiseTests : IDisposable
{
    private readonly LlamaModel _model = LlamaModel.Load(TestModels.TinyLlama);
    private readonly GenerationEngine _engine;

    public PairwiseTests() => _engine = new GenerationEngine(_model, new EngineOptions { Context = new ContextOptions { ContextSize = 4096 } });

    public void Dispose()
    {
        _engine.Dispose();
        _model.Dispose();
    }

    private static string FreshDirectory(string name)
    {
        var dir = Path.Combine(TestModels.Directory, name);
        if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
        return dir;
    }

    private async Task<(JsonObject Summary, List<JsonObject> Records)> RunAsync(string name, EvalDecoder baselineDecoder)
    {
        var dir = FreshDirectory(name);
        var options = new EvalOptions
        {
            Suites = [EvalSuite.Pairwise], DataDirectory = EvalFixtures.DataDirectory(name + "-data"), MaxNewTokens = 10,
            Baseline = new PairwiseBaseline(_engine, baselineDecoder, "same model"),
        };
        var summary = await new EvalRun(dir).RunAsync(_engine, _engine, TestModels.TinyLlama, [], options);
        return (summary, JsonlFile.Read(Path.Combine(dir, "pairwise.jsonl")).Select(r => r.Record).ToList());
    }

    [Fact]
    public async Task EachTurnIsAnsweredWithItsOwnHistoryAndJudgedInBothPositions()
    {
        var (summary, records) = await RunAsync("pairwise-sample", EvalDecoder.Sample);
        Assert.Equal(["81", "82", "1"], records.Select(r => r["id"]!.GetValue<string>()));
        var two = records[0];
        var turns = two["turns"]!.AsArray().Select(t => t!.GetValue<string>()).ToList();
        var answers = two["answers"]!.AsArray().Select(t => t!.GetValue<string>()).ToList();
        Assert.Equal(2, answers.Count);
        Assert.Equal(2, two["baseline_answers"]!.AsArray().Count);
        // the second turn's greedy answer is the model's answer to the conversation holding its own first answer
        var second = await _engine.GenerateAsync(new GenerationRequest
        {
            Prompt = TurnFormat.Plain.Format([new ChatTurn("user", turns[0]), new ChatTurn("assistant", answers[0]), new ChatTurn("user", turns[1])]),
            MaxNewTokens = 10, StopStrings = TurnFormat.Plain.StopStrings,
        });
        Assert.Equal(second.Text.Trim(), answers[1]);

        // the margins are the judge's label log-probabilities with the model's answer first, then second
        var p = EvalPrompts.Default;
        var single = records[1];
        var (mine, theirs) = (single["answers"]![0]!.GetValue<string>(), single["baseline_answers"]![0]!.GetValue<string>());
        var question = single["turns"]![0]!.GetValue<string>();
        var first = TextTemplate.Fill(p.Pairwise, ("question", question), ("a", mine), ("b", theirs));
        var swapped = TextTemplate.Fill(p.Pairwise, ("question", question), ("a", theirs), ("b", mine));
        var s = await _engine.ScoreAsync([new(first, p.OptionA), new(first, p.OptionB), new(swapped, p.OptionA), new(swapped, p.OptionB)]);
        Assert.Equal(s[0].LogProbability - s[1].LogProbability, single["first_margin"]!.GetValue<double>(), 1e-3);
        Assert.Equal(s[3].LogProbability - s[2].LogProbability, single["second_margin"]!.GetValue<double>(), 1e-3);

        var figures = summary["suites"]!["pairwise"]!;
        var counts = new[] { "win", "tie", "loss" }.Select(o => figures[o + "_rate"]!["count"]!.GetValue<int>()).ToList();
        Assert.Equal(records.Select(r => r["outcome"]!.GetValue<string>()).Count(o => o == "win"), counts[0]);
        Assert.Equal(3, counts.Sum());
        Assert.Equal((counts[0] + counts[1] / 2.0) / 3, figures["score"]!["value"]!.GetValue<double>(), 1e-9);
    }

    [Fact]
    public async Task AModelAgainstItselfAlwaysTies()
    {
        var (summary, records) = await RunAsync("pairwise-self", EvalDecoder.Greedy);
        Assert.All(records, r =>
        {
            Assert.Equal(r["answers"]!.ToJsonString(), r["baseline_answers"]!.ToJsonString());
            Assert.Equal(-r["first_margin"]!.GetValue<double>(), r["second_margin"]!.GetValue<double>(), 1e-3);
        });
        Assert.Equal(3, summary["suites"]!["pairwise"]!["tie_rate"]!["count"]!.GetValue<int>());
    }

    [Fact]
    public void TheCommandComparesDecodersAndRefusesAComparisonWithNothing()
    {
        var data = EvalFixtures.DataDirectory("pairwise-cli-data");
        var ok = CliProcess.Run("eval", "--model", TestModels.TinyLlama, "--suite", "pairwise", "--data", data, "--out", FreshDirectory("pairwise-cli"),
            "--baseline-decoder", "sample", "--max-new-tokens", "8", "--json");
        Assert.True(ok.ExitCode == 0, ok.Stderr);
        Assert.Equal(3, JsonNode.Parse(ok.Stdout)!["suites"]!["pairwise"]!["n"]!.GetValue<int>());

        var same = CliProcess.Run("eval", "--model", TestModels.TinyLlama, "--suite", "pairwise", "--data", data, "--out", FreshDirectory("pairwise-cli-2"));
        Assert.Equal(2, same.ExitCode);
        Assert.Contains("compares with another model", same.Stderr);
        var notPairwise = CliProcess.Run("eval", "--model", TestModels.TinyLlama, "--suite", "hhh", "--data", data, "--baseline-decoder", "sample");
        Assert.Equal(2, notPairwise.ExitCode);
        Assert.Contains("are for --suite pairwise", notPairwise.Stderr);
        var noQuestions = CliProcess.Run("eval", "--model", TestModels.TinyLlama, "--suite", "pairwise", "--data", TestModels.Directory,
            "--baseline-decoder", "sample", "--out", FreshDirectory("pairwise-cli-3"));
        Assert.Equal(2, noQuestions.ExitCode);
        Assert.Contains("question", noQuestions.Stderr);
    }
}

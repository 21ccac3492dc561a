using System.Text.RegularExpressions;
using SelfAlign.Evaluation.Report;
using SelfAlign.Tests.Cli;
using Xunit;

namespace SelfAlign.Tests.Evaluation;

/// <summary>The report: figures read from the tool's own result files, labels escaped, and the page rendered in a real browser.</summary>
public sealed class HtmlReportTests
{
    private const string Rows = """
        [
          {"setting": "vanilla <b>sampling</b>", "harmful_rate": {"value": 0.74, "ci95_low": 0.6, "ci95_high": 0.84, "count": 37, "n": 50}, "mean_answer_words": 11.5,
           "rain": {"iterations": 3}},
          {"setting": "RAIN", "harmful_rate": {"value": 0.18, "ci95_low": 0.1, "ci95_high": 0.31, "count": 9, "n": 50}, "median_time_ratio": 9.77}
        ]
        """;

    [Fact]
    public void RowsBecomeRunsWithTheirFiguresAndPlainNumbers()
    {
        var runs = ReportSources.Read(TestFiles.Write("report", "rows.json", Rows));
        Assert.Equal(["vanilla <b>sampling</b>", "RAIN"], runs.Select(r => r.Label));
        var harm = runs[0].Figures.Single(f => f.Name == "harmful_rate");
        Assert.Equal((0.74, 0.6, 0.84, 50), (harm.Value, harm.Low!.Value, harm.High!.Value, harm.N!.Value));
        Assert.True(harm.LowerIsBetter);
        Assert.Equal(11.5, runs[0].Figures.Single(f => f.Name == "mean_answer_words").Value);
        Assert.DoesNotContain(runs[0].Figures, f => f.Name.Contains("iterations", StringComparison.Ordinal));
        Assert.Equal(["harmful_rate", "median_time_ratio"], runs[1].Figures.Select(f => f.Name));
    }

    [Fact]
    public void BadFilesAreNamed()
    {
        var notJson = TestFiles.Write("report", "broken.json", "{ no");
        Assert.Contains("broken.json: not JSON", Assert.Throws<InvalidInputException>(() => ReportSources.Read(notJson)).Message);
        var other = TestFiles.Write("report", "other.json", "{\"a\": 1}");
        Assert.Contains("neither an evaluation summary", Assert.Throws<InvalidInputException>(() => ReportSources.Read(other)).Message);
        Assert.Contains("at least one run", Assert.Throws<InvalidInputException>(() => HtmlReport.Render([], "t")).Message);
    }

    [Fact]
    public void LabelsFromFilesAreTextNotMarkup()
    {
        var html = HtmlReport.Render(ReportSources.Read(TestFiles.Write("report", "rows.json", Rows)), "a <title>");
        Assert.DoesNotContain("<b>sampling", html, StringComparison.Ordinal);
        Assert.Contains("vanilla &lt;b&gt;sampling&lt;/b&gt;", html, StringComparison.Ordinal);
        Assert.Contains("<title>a &lt;title&gt;</title>", html, StringComparison.Ordinal);
        Assert.Contains(">20</text>", html, StringComparison.Ordinal); // mean words 11.5 on an axis rounded up to 20
        Assert.DoesNotContain(">-0</text>", html, StringComparison.Ordinal);
        Assert.DoesNotContain("http", html.Replace("http://www.w3.org/2000/svg", "", StringComparison.Ordinal), StringComparison.Ordinal);
    }

    /// <summary>Two evaluations of the command, merged by <c>eval report</c>, open in Chromium with their scripts run and no error;
    /// every figure of both runs is drawn. The screenshot is left beside the report for a person to look at.</summary>
    [Fact]
    public void EvaluationsMergedIntoAReportRenderInABrowser()
    {
        var data = EvalFixtures.DataDirectory("report-data");
        var summaries = new List<string>();
        foreach (var seed in new[] { "1", "2" })
        {
            var dir = Path.Combine(TestModels.Directory, "report-eval-" + seed);
            if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
            var single = Path.Combine(dir, "single.html");
            var run = CliProcess.Run("eval", "--model", TestModels.TinyLlama, "--suite", "truthfulqa-mc,hhh", "--data", data, "--out", dir, "--seed", seed, "--report", single);
            Assert.True(run.ExitCode == 0, run.Stderr);
            Assert.Contains("truthfulqa-mc", File.ReadAllText(single));
            summaries.Add(Path.Combine(dir, "summary.json"));
        }
        var report = Path.Combine(TestModels.Directory, "report-merged.html");
        var merged = CliProcess.Run("eval", "report", $"seed one={summaries[0]}", $"seed two={summaries[1]}", "--out", report);
        Assert.True(merged.ExitCode == 0, merged.Stderr);

        var dom = HeadlessChromium.DumpDom(report);
        Assert.Contains("data-ready=\"1\"", dom, StringComparison.Ordinal);
        Assert.DoesNotContain("data-script-error", dom, StringComparison.Ordinal);
        // per run: MC1, MC2, true/false MC1, HHH overall and its two subsets, one bar each
        foreach (var run in new[] { 0, 1 })
            Assert.Equal(6, Regex.Count(dom, $"<g data-run=\"{run}\"><title>seed {(run == 0 ? "one" : "two")}: "));
        HeadlessChromium.Screenshot(report, Path.ChangeExtension(report, ".png"));
        Assert.True(new FileInfo(Path.ChangeExtension(report, ".png")).Length > 10_000, "the screenshot is blank");

        var missing = CliProcess.Run("eval", "report", Path.Combine(TestModels.Directory, "no-such-summary.json"), "--out", report);
        Assert.Equal(2, missing.ExitCode);
        Assert.Contains("no-such-summary.json", missing.Stderr);
    }
}

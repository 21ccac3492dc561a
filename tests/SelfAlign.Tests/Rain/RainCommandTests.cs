using SelfAlign.Tests.Cli;
using Xunit;

namespace SelfAlign.Tests.Rain;

public class RainCommandTests
{
    [Fact]
    public void BadJudgeLabelsConstantsAndPromptsGiveOneLineAndExitCodeTwo()
    {
        var judge = Path.Combine(TestModels.Directory, "multi-token-judge.yaml");
        File.WriteAllText(judge, "conversation: \"Q: {prompt}\\nA:\"\norders:\n  - suffix: \"\\nVerdict:\"\n    good: \" harmless and fine\"\n    bad: \" harmful\"\n");
        var cases = new (string[] Args, string Message)[]
        {
            (["rain", "-m", TestModels.TinyLlama, "-p", "hello", "--judge", judge], "judge label ' harmless and fine' is not a single token"),
            (["rain", "-m", TestModels.TinyLlama, "-p", "hello", "--tmax", "0"], "max iterations (Tmax) must be >= 1"),
            (["rain", "-m", TestModels.TinyLlama, "-p", "hello", "--value-threshold", "3"], "value threshold (V) must be in [-1, 1]"),
            (["rain", "-m", TestModels.TinyLlama, "-p", string.Concat(Enumerable.Repeat("word ", 3000))], "RAIN needs"),
            (["rain", "-m", TestModels.TinyLlama, "-p", "hello", "--judge", "/nonexistent/judge.yaml"], "judge file not found"),
        };
        foreach (var (args, message) in cases)
        {
            var o = CliProcess.Run(args);
            Assert.Equal(2, o.ExitCode);
            Assert.Contains(message, o.Stderr);
            Assert.Single(o.Stderr.Trim().Split('\n'));
            Assert.Equal("", o.Stdout);
        }
    }
}

using System.Globalization;
namespace SelfAlign.Testbed;

/// <summary>How the testbed asks its model: a plain chat turn, the same behind a principles preamble with a worked example, or behind the verbose meta prompt.</summary>
public static class TestbedPrompts
{
    public static string Plain(string request) => TestbedCorpus.Turn("User", request) + "### Assistant\n";

    /// <summary>The testbed's own principles and example: data/testbed/principles.txt, embedded in the library.</summary>
    public static string DefaultPrinciples => ReadResource("principles.txt");

    /// <summary>RAIN's judge for the testbed world (data/testbed/judge.yaml): the review form its corpus holds.</summary>
    public static Rain.RainJudge Judge => Rain.RainJudge.Parse(ReadResource("judge.yaml"), "judge.yaml");

    /// <summary>The evaluation suites' questions in the testbed's words (data/testbed/eval-prompts.yaml).</summary>
    public static Evaluation.EvalPrompts Eval => Evaluation.EvalPrompts.Parse(ReadResource("eval-prompts.yaml"), "eval-prompts.yaml");

    private static string ReadResource(string name)
    {
        using var s = typeof(TestbedPrompts).Assembly.GetManifestResourceStream($"SelfAlign.Testbed.{name}")
            ?? throw new InvalidOperationException($"missing embedded resource {name}");
        return new StreamReader(s).ReadToEnd();
    }

    /// <summary>The preamble and example every principled prompt shares (the engine evaluates it once).</summary>
    public static string PrincipledPrefix(TestbedRules rules) =>
        rules.Preamble() +
        rules.Exchange(string.Format(CultureInfo.InvariantCulture, TestbedWorld.RequestPhrasings[0], "cook", "cake"), "cook", "cake", TestbedWorld.RefusalPhrasings[0]) +
        rules.Exchange(string.Format(CultureInfo.InvariantCulture, TestbedWorld.RequestPhrasings[1], "steal", "bike"), "steal", "bike", TestbedWorld.RefusalPhrasings[0]);

    /// <summary>The request behind the verbose meta prompt: what verbose cloning's teacher is asked (examples/testbed/prompts.yaml).</summary>
    public static string Verbose(string request) => TestbedCorpus.VerboseHeader + TestbedCorpus.Turn("User", request) + $"### {TestbedCorpus.VerboseRole}\n";

    public static string PrincipledQuestion(string request) => TestbedCorpus.Turn("User", request) + "### Assistant ( internal thoughts )\n";

    /// <summary>The answer in a generation: after the "### Assistant" header if thoughts came first, up to the blank line.</summary>
    public static string ExtractAnswer(string generated)
    {
        const string header = "### Assistant\n";
        var i = generated.IndexOf(header, StringComparison.Ordinal);
        var answer = i >= 0 ? generated[(i + header.Length)..] : generated;
        var end = answer.IndexOf("\n\n", StringComparison.Ordinal);
        return (end >= 0 ? answer[..end] : answer).Trim();
    }
}

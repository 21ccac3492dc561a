using Xunit;

namespace SelfAlign.Tests.Cli;

/// <summary>Every bad input gets one line on stderr naming the problem, exit code 2, and no stack trace.</summary>
public class BadInputTests
{
    private static string Temp(string name, string content)
    {
        var path = Path.Combine(TestModels.Directory, name);
        File.WriteAllText(path, content);
        return path;
    }

    private static void AssertOneLineError(CliProcess.Outcome o, string expected)
    {
        Assert.Equal(2, o.ExitCode);
        var lines = o.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Single(lines);
        Assert.Contains(expected, lines[0]);
        Assert.DoesNotContain("   at ", o.Stderr);
    }

    [Fact]
    public void MissingModelFile() => AssertOneLineError(CliProcess.Run("generate", "-m", "/nonexistent/m.gguf", "-p", "hi"), "not found: /nonexistent/m.gguf");

    [Fact]
    public void NonGgufFile() => AssertOneLineError(CliProcess.Run("generate", "-m", Temp("text.gguf", "just text, not a model"), "-p", "hi"), "not a GGUF file");

    [Fact]
    public void TruncatedModel()
    {
        var path = Path.Combine(TestModels.Directory, "cut.gguf");
        File.WriteAllBytes(path, File.ReadAllBytes(TestModels.TinyLlama)[..5000]);
        AssertOneLineError(CliProcess.Run("model", "inspect", path), "cut.gguf");
    }

    [Fact]
    public void PromptLongerThanContext() =>
        AssertOneLineError(CliProcess.Run("generate", "-m", TestModels.TinyLlama, "--ctx-size", "256", "-p", string.Join(" ", Enumerable.Repeat("word", 400))), "does not fit the context");

    [Fact]
    public void MalformedJsonlNamesFileAndLine()
    {
        var path = Temp("prompts-bad.jsonl", "{\"prompt\": \"fine\"}\n{\"prompt\": \"also fine\"}\n{not json\n");
        AssertOneLineError(CliProcess.Run("generate", "-m", TestModels.TinyLlama, "--prompts", path, "--out", path + ".out"), $"{path}:3:");
        var missing = Temp("prompts-missing.jsonl", "{\"prompt\": \"fine\"}\n{\"text\": \"no prompt\"}\n");
        AssertOneLineError(CliProcess.Run("generate", "-m", TestModels.TinyLlama, "--prompts", missing, "--out", missing + ".out"), $"{missing}:2: missing string field \"prompt\"");
    }

    [Fact]
    public void UnknownOptionAndBadValue()
    {
        AssertOneLineError(CliProcess.Run("generate", "--frobnicate"), "--frobnicate");
        AssertOneLineError(CliProcess.Run("model", "synth", "--preset", "huge", "--out", "/tmp/x.gguf"), "huge");
        AssertOneLineError(CliProcess.Run("generate", "-m", TestModels.TinyLlama, "-p", "hi", "--top-p", "1.5"), "top-p");
    }

    [Fact]
    public void VerboseShowsTheStackTrace()
    {
        var o = CliProcess.Run("generate", "-m", "/nonexistent/m.gguf", "-p", "hi", "--verbose");
        Assert.Equal(2, o.ExitCode);
        Assert.Contains("   at ", o.Stderr);
    }
}

using System.Text.Json.Nodes;
using Xunit;

namespace SelfAlign.Tests.Cli;

public class GenerateCommandTests
{
    [Fact]
    public void PromptFileRunResumesWithoutLosingOrRepeatingRecords()
    {
        var input = Path.Combine(TestModels.Directory, "resume-prompts.jsonl");
        File.WriteAllLines(input, Enumerable.Range(0, 12).Select(i => $"{{\"id\": \"q{i}\", \"prompt\": \"question number {i}\"}}"));
        var output = input + ".out";
        var reference = output + ".reference";
        File.Delete(output);
        File.Delete(reference);
        string[] Args(string o) => ["generate", "-m", TestModels.TinyLlama, "--prompts", input, "--out", o, "-n", "12", "--parallel", "4"];

        Assert.Equal(0, CliProcess.Run(Args(reference)).ExitCode);

        // Simulate a kill mid-run: keep 5 finished records and half of a sixth line.
        var lines = File.ReadAllLines(reference);
        File.WriteAllText(output, string.Join("\n", lines[..5]) + "\n" + lines[5][..(lines[5].Length / 2)]);
        var o = CliProcess.Run([.. Args(output), "--json"]);
        Assert.Equal(0, o.ExitCode);
        Assert.Equal(5, JsonNode.Parse(o.Stdout)!["skipped_already_done"]!.GetValue<int>());

        var records = File.ReadAllLines(output).Select(l => JsonNode.Parse(l)!).ToList();
        Assert.Equal(12, records.Count);
        Assert.Equal(12, records.Select(r => r["id"]!.ToString()).Distinct().Count());
        var expected = File.ReadAllLines(reference).Select(l => JsonNode.Parse(l)!).ToDictionary(r => r["id"]!.ToString(), r => r["text"]!.ToString());
        foreach (var r in records) Assert.Equal(expected[r["id"]!.ToString()], r["text"]!.ToString());
    }

    [Fact]
    public void InspectJsonReportsTheModel()
    {
        var o = CliProcess.Run("model", "inspect", TestModels.TinyQwen2, "--json");
        Assert.Equal(0, o.ExitCode);
        var j = JsonNode.Parse(o.Stdout)!;
        Assert.Equal("qwen2", j["architecture"]!.ToString());
        Assert.Equal(512, j["vocabulary_size"]!.GetValue<int>());
        Assert.Contains("im_start", j["chat_template"]!.ToString());
    }
}

using SelfAlign.Pipeline;
using Xunit;

namespace SelfAlign.Tests.Pipeline;

/// <summary>The shipped English data files load, and are what the method asks for.</summary>
public class DefaultDataTests
{
    private static readonly string Data = Path.Combine(Path.GetDirectoryName(Repository.CacheDirectory)!, "data", "selfalign");

    [Fact]
    public void SixteenPrinciplesFiveExemplarsTwentyRedTeamTypesUnderTwoHundredSeeds()
    {
        var principles = AlignData.Principles(Path.Combine(Data, "principles.yaml"));
        var exemplars = AlignData.Exemplars(Path.Combine(Data, "exemplars.yaml"));
        var redTeam = AlignData.RedTeamSeeds(Path.Combine(Data, "red-team.jsonl"));
        var seeds = AlignData.SeedTasks(Path.Combine(Data, "seed-tasks.jsonl"));
        var templates = PromptTemplates.Load(Path.Combine(Data, "prompts.yaml"));

        Assert.Equal(16, principles.Count);
        Assert.Equal(5, exemplars.Count);
        Assert.Equal(20, redTeam.Select(r => r.Type).Distinct().Count());
        Assert.InRange(seeds.Count + redTeam.Count, 20, 199);
        foreach (var e in exemplars)
        {
            Assert.StartsWith(templates.ThoughtOpening, e.Thoughts);
            Assert.NotEmpty(AlignData.RulesNamed(e.Thoughts, principles));
            Assert.NotEmpty(e.Keywords);
            // a keyword marks a copy of this exemplar, so it is this exemplar's own text
            foreach (var k in e.Keywords) Assert.Contains(k, e.User + "\n" + e.Answer, StringComparison.OrdinalIgnoreCase);
        }
        var prompt = AlignData.SelfAlignPrompt(templates, principles, exemplars);
        Assert.Contains("16 (operational).", prompt);
        Assert.Contains("Sage (internal thoughts): I am a helpful", prompt);
    }
}

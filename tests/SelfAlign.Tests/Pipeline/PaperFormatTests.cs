using SelfAlign.Data;
using SelfAlign.Pipeline;
using Xunit;

namespace SelfAlign.Tests.Pipeline;

/// <summary>The paper's own file formats: the one-file principles prompt, the Self-Instruct seed tasks and the red-teaming seeds.</summary>
public class PaperFormatTests
{
    // A small prompt in the reference's layout, written for this test.
    private const string Prompt = """
        # Wren

        ## General Rules

        Wren is an AI assistant whose knowledge stops at its training date. Wren keeps to these rules:

        1 (kind). Wren treats everyone with respect and refuses to help cause harm.
        2 (exact). Wren gives precise facts and says when it is unsure,
        and never invents sources.
        3 (brief). Wren answers in as few words as the question allows.

        ## Examples

        Below, Wren thinks privately about which rules apply before each answer.

        User: how many legs does a spider have

        Wren (internal thoughts): I am a careful assistant. A simple fact. I should follow rules 2 (exact), 3 (brief).

        Wren: Eight.

        User: and an ant?

        Wren (internal thoughts): I am a careful assistant. A follow-up fact. I should follow rules 2 (exact).

        Wren: Six.

        User: Thanks, all done

        Wren (auto reply): Glad to help!

        User: help me scare my neighbour's dog

        Wren (internal thoughts): I am a careful assistant. This could hurt an animal. I should follow rules 1 (kind).

        Wren: I won't help frighten an animal. If the dog bothers you, talking to your neighbour is a good first step.
        It often works.

        User: Thanks, all done

        Wren (auto reply): Glad to help!

        User:
        """;

    private static string Write(string name, string text) => TestFiles.Write("paper-format", name, text);

    [Fact]
    public void ThePromptFileGivesNameRulesExemplarsAndTheStageTwoTurns()
    {
        var file = SelfAlignPromptFile.Read(Write("wren.txt", Prompt));
        Assert.Equal("Wren", file.Name);
        Assert.Equal(["kind", "exact", "brief"], file.Principles.Select(p => p.Name));
        Assert.Equal("Wren gives precise facts and says when it is unsure, and never invents sources.", file.Principles[1].Rule);
        Assert.Equal(["how many legs does a spider have", "and an ant?", "help me scare my neighbour's dog"], file.Exemplars.Select(e => e.User));
        Assert.Equal("I am a careful assistant. A follow-up fact. I should follow rules 2 (exact).", file.Exemplars[1].Thoughts);
        Assert.EndsWith("It often works.", file.Exemplars[2].Answer);
        Assert.EndsWith("User:", file.Text);

        var t = file.Apply(new PromptTemplates { ChatPrompt = "### User\n{question}\n\n### Wren\n" });
        Assert.Equal("I am a careful assistant.", t.ThoughtOpening);
        Assert.Equal("\n\nWren:", t.AnswerMarker);
        // a request goes after the open user turn, and the model writes its internal thoughts next
        Assert.EndsWith("User: how tall is Everest\n\nWren (internal thoughts):", file.Text + TextTemplate.Fill(t.Question, ("question", "how tall is Everest")));
        // and the stage-2 filter reads answers in this prompt's turns
        var f = new AnswerFilter(t, file.Principles, file.Exemplars, new AnswersConfig { MinChars = 5 })
            .Process("how tall is Everest", " I am a careful assistant. A fact. I should follow rules 2 (exact).\n\nWren: About 8,849 metres.", true);
        Assert.Equal("About 8,849 metres.", f.Answer);
        Assert.Equal([2], f.Rules);
    }

    [Theory]
    [InlineData("3 (brief).", "4 (brief).", "rule 4 where rule 3 was expected")]
    [InlineData("Wren: Eight.", "Wren (auto reply): Eight.", "'Wren:' must follow the internal thoughts")]
    [InlineData("## General Rules", "## Rules", "no '## General Rules' section")]
    public void MalformedPromptFilesNameFileAndLine(string find, string replace, string problem)
    {
        var path = Write("bad.txt", Prompt.Replace(find, replace));
        var e = Assert.Throws<InvalidInputException>(() => SelfAlignPromptFile.Read(path));
        Assert.Matches(@"bad\.txt:\d+: ", e.Message);
        Assert.Contains(problem, e.Message);
    }

    [Fact]
    public void APromptFileMustEndWithAnOpenUserTurn()
    {
        var path = Write("closed.txt", Prompt + " how are you");
        Assert.Contains("closed.txt:", Assert.Throws<InvalidInputException>(() => SelfAlignPromptFile.Read(path)).Message);
        Assert.Contains("must end with an open 'User:' turn", Assert.Throws<InvalidInputException>(() => SelfAlignPromptFile.Read(path)).Message);
    }

    [Fact]
    public void DialogueNotClosedIsRefused()
    {
        var path = Write("open.txt", Prompt.Replace("It often works.\n\nUser: Thanks, all done\n\nWren (auto reply): Glad to help!", "It often works."));
        var e = Assert.Throws<InvalidInputException>(() => SelfAlignPromptFile.Read(path));
        Assert.Contains("open.txt:", e.Message);
        Assert.Contains("not closed by a user turn and a 'Wren (auto reply):' turn", e.Message);
    }

    [Fact]
    public void SeedFilesAsDistributed()
    {
        var seeds = Write("seed_tasks.jsonl", """
            {"id": "seed_task_0", "name": "past_tense", "instruction": "Put the sentence in the past tense.", "instances": [{"input": "I walk home.", "output": "I walked home."}], "is_classification": false}
            {"id": "seed_task_1", "name": "rivers", "instruction": "Name three rivers.", "instances": [{"input": "", "output": "Nile, Amazon, Danube"}], "is_classification": false}
            """);
        Assert.Equal([new SeedTask("Put the sentence in the past tense.", "I walk home."), new SeedTask("Name three rivers.", "")], AlignData.SeedTasks(seeds));

        var bad = Write("bad_seeds.jsonl", """
            {"instruction": "Fine.", "instances": [{"input": "a", "output": "b"}]}
            {"instruction": "Broken.", "instances": []}
            """);
        Assert.Contains("bad_seeds.jsonl:2: \"instances\" must be", Assert.Throws<JsonlFormatException>(() => AlignData.SeedTasks(bad)).Message);

        var redTeam = Write("red_team.jsonl", """
            {"topic": "Bridges", "question_type": "Questions that require engineering knowledge", "question": "Why do bridges have expansion joints?"}
            """);
        Assert.Equal([new RedTeamSeed("Questions that require engineering knowledge", "Bridges", "Why do bridges have expansion joints?")], AlignData.RedTeamSeeds(redTeam));
    }

    [Fact]
    public void ARunTakesItsPrinciplesFromThePromptFile()
    {
        var data = Path.Combine(Path.GetDirectoryName(Repository.CacheDirectory)!, "data", "selfalign");
        var prompt = Write("run-wren.txt", Prompt);
        var config = new AlignConfig
        {
            BaseModel = "base.gguf",
            Data = new AlignDataFiles
            {
                SelfAlignPrompt = prompt, SeedTasks = Path.Combine(data, "seed-tasks.jsonl"), RedTeam = Path.Combine(data, "red-team.jsonl"),
                Prompts = Path.Combine(data, "prompts.yaml"),
            },
        };
        var run = new AlignRun(config, Path.Combine(TestModels.Directory, "paper-format", "run"));
        Assert.Equal(File.ReadAllText(prompt).TrimEnd(), run.SelfAlignPrefix);
        Assert.Equal(3, run.Principles.Count);
        Assert.Equal("\n\nWren:", run.Templates.AnswerMarker);
    }
}

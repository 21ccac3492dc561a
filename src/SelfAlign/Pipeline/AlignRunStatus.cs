using System.Text.Json.Nodes;

namespace SelfAlign.Pipeline;

public enum StageState { NotStarted, InProgress, Complete }

/// <summary>One stage of a run: its state and counts (while in progress, what its output files hold so far).</summary>
public sealed record AlignStageStatus(AlignStage Stage, StageState State, JsonObject Counts);

/// <summary>What <see cref="AlignRun.Status"/> reports: each stage, and the models the run made (null until made).</summary>
public sealed record AlignRunStatus(
    string Directory, IReadOnlyList<AlignStageStatus> Stages, string? BaseModel, string? EngravedModel, string? VerboseModel)
{
    public AlignStageStatus this[AlignStage stage] => Stages.Single(s => s.Stage == stage);

    /// <summary>The form <c>align status --json</c> prints: stages by name, states in words.</summary>
    public JsonObject ToJson()
    {
        var stages = new JsonObject();
        foreach (var s in Stages)
            stages[RunManifest.Name(s.Stage)] = new JsonObject { ["state"] = Words(s.State), ["counts"] = s.Counts.DeepClone() };
        return new JsonObject
        {
            ["directory"] = Directory,
            ["stages"] = stages,
            ["models"] = new JsonObject { ["base"] = BaseModel, ["engraved"] = EngravedModel, ["verbose"] = VerboseModel },
        };
    }

    public static string Words(StageState state) => state switch
    {
        StageState.NotStarted => "not started", StageState.InProgress => "in progress", _ => "complete",
    };
}

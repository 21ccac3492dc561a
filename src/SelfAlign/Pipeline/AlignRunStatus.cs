using System.Text.Json.Nodes;

namespace SelfAlign.Pipeline;

/// <summary>ShardComplete: this directory's part of a sharded stage is done; the stage finishes when the parts are merged.</summary>
public enum StageState { NotStarted, InProgress, ShardComplete, Complete }

/// <summary>One stage of a run: its state and counts (while in progress, what its output files hold so far).</summary>
public sealed record AlignStageStatus(AlignStage Stage, StageState State, JsonObject Counts)
{
    /// <summary>"i/n" when this directory runs a part of the stage.</summary>
    public string? Shard { get; init; }
}

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
        {
            stages[RunManifest.Name(s.Stage)] = new JsonObject { ["state"] = Words(s.State), ["counts"] = s.Counts.DeepClone() };
            if (s.Shard is { } shard) stages[RunManifest.Name(s.Stage)]!["shard"] = shard;
        }
        return new JsonObject
        {
            ["directory"] = Directory,
            ["stages"] = stages,
            ["models"] = new JsonObject { ["base"] = BaseModel, ["engraved"] = EngravedModel, ["verbose"] = VerboseModel },
        };
    }

    public static string Words(StageState state) => state switch
    {
        StageState.NotStarted => "not started", StageState.InProgress => "in progress", StageState.ShardComplete => "shard complete", _ => "complete",
    };
}

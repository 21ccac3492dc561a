namespace SelfAlign.Pipeline;

/// <summary>Where a run is: the stage, its current step (e.g. "self-instruct"), counts, and a rate.</summary>
public sealed record AlignProgress(AlignStage Stage, string Step, long Done, long Total, string Detail = "");

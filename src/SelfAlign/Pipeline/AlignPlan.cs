using System.Text.Json.Nodes;

namespace SelfAlign.Pipeline;

/// <summary>
/// One step of a planned run. New tokens assume every request writes its <c>max_new_tokens</c>, so times are upper bounds
/// for a model that stops earlier; <see cref="Exact"/> says whether the request count follows from the config alone
/// (otherwise it depends on what the model writes, and the plan's assumption is in <see cref="Basis"/>).
/// </summary>
public sealed record PlannedStep(AlignStage Stage, string Step, long Requests, long PromptTokens, long NewTokens, long TrainingWindows, double Seconds,
    bool Exact, string Basis);

/// <summary>What the plan measured on the configured model before estimating.</summary>
/// <param name="LoadSeconds">Loading the base model once.</param>
/// <param name="PrefillTokensPerS">Prompt tokens evaluated per second (the principles prompt, in one sequence).</param>
/// <param name="StepSecondsAlone">One generated token of one sequence.</param>
/// <param name="StepSecondsBatched">One decode step of <paramref name="BatchedSequences"/> sequences together.</param>
/// <param name="TrainingSecondsPerWindow">One training window of the engraving's context length, forward and backward.</param>
public sealed record PlanCalibration(double LoadSeconds, double PrefillTokensPerS, double StepSecondsAlone, double StepSecondsBatched, int BatchedSequences,
    double TrainingSecondsPerWindow, int TrainingContextLength, double Seconds)
{
    /// <summary>
    /// Seconds of one decode step over <paramref name="sequences"/> sequences: a fixed part plus a part per sequence. A busy machine can
    /// measure the batched step faster than the single one; that slope, extrapolated past the calibration batch, would give negative times,
    /// so the per-sequence part never goes below zero.
    /// </summary>
    public double StepSeconds(int sequences)
    {
        var perSequence = Math.Max(0, StepSecondsBatched - StepSecondsAlone) / Math.Max(1, BatchedSequences - 1);
        return Math.Min(StepSecondsAlone, StepSecondsBatched) + perSequence * (Math.Max(1, sequences) - 1);
    }
}

/// <summary>The requests, tokens and estimated wall time of each stage of a run, made before any of its work (<see cref="AlignRun.PlanAsync"/>).</summary>
public sealed record AlignPlan(string BaseModel, IReadOnlyList<PlannedStep> Steps, PlanCalibration Calibration)
{
    public double TotalSeconds => Steps.Sum(s => s.Seconds);

    /// <summary>The form <c>align plan --json</c> prints.</summary>
    public JsonObject ToJson()
    {
        var steps = new JsonArray();
        foreach (var s in Steps)
            steps.Add(new JsonObject
            {
                ["stage"] = RunManifest.Name(s.Stage), ["step"] = s.Step, ["requests"] = s.Requests, ["prompt_tokens"] = s.PromptTokens,
                ["new_tokens"] = s.NewTokens, ["training_windows"] = s.TrainingWindows, ["seconds"] = Math.Round(s.Seconds, 1),
                ["exact"] = s.Exact, ["basis"] = s.Basis,
            });
        var c = Calibration;
        return new JsonObject
        {
            ["base_model"] = BaseModel, ["steps"] = steps, ["total_seconds"] = Math.Round(TotalSeconds, 1),
            ["calibration"] = new JsonObject
            {
                ["load_seconds"] = Math.Round(c.LoadSeconds, 2), ["prefill_tokens_per_s"] = Math.Round(c.PrefillTokensPerS, 1),
                ["step_seconds_alone"] = Math.Round(c.StepSecondsAlone, 4), ["step_seconds_batched"] = Math.Round(c.StepSecondsBatched, 4),
                ["batched_sequences"] = c.BatchedSequences, ["training_seconds_per_window"] = Math.Round(c.TrainingSecondsPerWindow, 3),
                ["training_context_length"] = c.TrainingContextLength, ["seconds"] = Math.Round(c.Seconds, 1),
            },
        };
    }
}

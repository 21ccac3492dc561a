namespace SelfAlign.Training;

/// <summary>Linear warm-up, then constant, linear or cosine decay to zero over the whole run.</summary>
public sealed record LearningRateSchedule(float Peak, int WarmupSteps, int TotalSteps, LearningRateDecay Decay)
{
    /// <summary>Learning rate of optimizer step <paramref name="step"/> (0-based).</summary>
    public float At(int step)
    {
        if (step < WarmupSteps) return Peak * (step + 1) / (WarmupSteps + 1);
        var span = Math.Max(1, TotalSteps - WarmupSteps);
        var progress = Math.Clamp((double)(step - WarmupSteps) / span, 0, 1);
        var factor = Decay switch
        {
            LearningRateDecay.Linear => 1 - progress,
            LearningRateDecay.Cosine => 0.5 * (1 + Math.Cos(Math.PI * progress)),
            _ => 1,
        };
        // Never exactly zero: ggml asserts a positive learning rate.
        return (float)Math.Max(Peak * factor, Peak * 1e-3);
    }
}

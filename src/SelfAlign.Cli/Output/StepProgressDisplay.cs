namespace SelfAlign.Cli.Output;

/// <summary>Progress of a job that runs in steps: one <see cref="ProgressDisplay"/> per step, replaced when the step changes.</summary>
internal sealed class StepProgressDisplay : IDisposable
{
    private ProgressDisplay? _bar;
    private string? _step;

    /// <param name="step">the step's label; a new label ends the current bar and starts another.</param>
    public void Report(string step, long done, long total, string status = "")
    {
        if (step != _step)
        {
            Close();
            _bar = new ProgressDisplay(step, Math.Max(1, total));
            _step = step;
        }
        _bar!.Report(done, status);
    }

    /// <summary>Ends the current step's bar (the next report starts a new one).</summary>
    public void Close()
    {
        _bar?.Dispose();
        (_bar, _step) = (null, null);
    }

    public void Dispose() => Close();
}

using System.Diagnostics;
using Spectre.Console;

namespace SelfAlign.Cli.Output;

/// <summary>
/// Progress for long work: a Spectre.Console bar on a terminal, plain "label: n/total" lines on standard
/// error otherwise (logs, CI), at most every few seconds. Standard output stays free for results.
/// </summary>
internal sealed class ProgressDisplay : IDisposable
{
    private readonly string _label;
    private readonly long _total;
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private readonly Task? _render;
    private readonly TaskCompletionSource _done = new();
    private ProgressTask? _task;
    private long _value;
    private TimeSpan _lastPlain;
    private string _status = "";

    public ProgressDisplay(string label, long total)
    {
        _label = label;
        _total = Math.Max(1, total);
        var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Error) });
        if (Console.IsErrorRedirected || !console.Profile.Capabilities.Interactive) return;
        var ready = new TaskCompletionSource();
        _render = console.Progress()
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn())
            .StartAsync(async ctx =>
            {
                _task = ctx.AddTask(label, maxValue: _total);
                ready.SetResult();
                await _done.Task;
                _task.Value = _task.MaxValue;
            });
        ready.Task.Wait();
    }

    /// <summary>Sets the count done so far and an optional short status (rate, loss, ...).</summary>
    public void Report(long value, string status = "")
    {
        _value = value;
        _status = status;
        if (_task != null)
        {
            _task.Value = value;
            _task.Description = status.Length > 0 ? $"{_label} [grey]{Markup.Escape(status)}[/]" : _label;
            return;
        }
        if (_clock.Elapsed - _lastPlain < TimeSpan.FromSeconds(3) && value < _total) return;
        _lastPlain = _clock.Elapsed;
        Console.Error.WriteLine($"{_label}: {value}/{_total} {status}".TrimEnd());
    }

    public void Dispose()
    {
        _done.TrySetResult();
        _render?.Wait();
        if (_render is null && _value < _total && _status.Length > 0) Console.Error.WriteLine($"{_label}: {_value}/{_total} {_status}");
    }
}

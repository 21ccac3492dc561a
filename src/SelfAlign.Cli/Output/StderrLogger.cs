using Microsoft.Extensions.Logging;

namespace SelfAlign.Cli.Output;

/// <summary>Writes log records to standard error (used for llama.cpp's log under --verbose).</summary>
internal sealed class StderrLogger(LogLevel minimum) : ILogger
{
    public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;
    public bool IsEnabled(LogLevel logLevel) => logLevel >= minimum;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        if (IsEnabled(logLevel)) Console.Error.WriteLine($"[llama.cpp {logLevel}] {formatter(state, exception)}");
    }
}

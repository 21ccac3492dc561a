using System.CommandLine;
using System.Runtime.InteropServices;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using SelfAlign.Cli.Commands;
using SelfAlign.Cli.Output;
using SelfAlign.Data;
using SelfAlign.Generation;
using SelfAlign.Models;
using SelfAlign.Native;

namespace SelfAlign.Cli;

/// <summary>The <c>selfalign</c> command: a thin layer that parses options and calls the library.</summary>
public static class CliApp
{
    public const int UsageError = 2;

    public static readonly Option<bool> Verbose = new("--verbose") { Description = "Show llama.cpp's log and stack traces", Recursive = true };

    public static RootCommand BuildRoot()
    {
        var root = new RootCommand("SelfAlign: align a language model with minimal human supervision (Self-Align and RAIN on llama.cpp)");
        root.Options.Add(Verbose);
        root.Subcommands.Add(ModelCommand.Build());
        root.Subcommands.Add(GenerateCommand.Build());
        root.Subcommands.Add(ScoreCommand.Build());
        root.Subcommands.Add(TrainCommand.Build());
        root.Subcommands.Add(AlignCommand.Build());
        root.Subcommands.Add(RainCommand.Build());
        root.Subcommands.Add(TestbedCommand.Build());
        root.Subcommands.Add(BenchCommand.Build());
        root.Subcommands.Add(DemoCommand.Build());
        return root;
    }

    public static async Task<int> RunAsync(string[] args)
    {
        var root = BuildRoot();
        var parse = root.Parse(args);
        if (parse.Errors.Count > 0)
        {
            var message = string.Join(" ", parse.Errors[0].Message.Split(['\n', '\r', '\t'], StringSplitOptions.RemoveEmptyEntries));
            await Console.Error.WriteLineAsync($"selfalign: {message}");
            return UsageError;
        }
        var verbose = parse.GetValue(Verbose);
        if (verbose) LlamaRuntime.Logger = new StderrLogger(LogLevel.Debug);
        // System.CommandLine's own termination handler can throw on SIGTERM (it completes a task twice). This one cancels
        // the command on SIGINT or SIGTERM, and ends the process if the command has not stopped 5 s later (long jobs
        // write as they go, so an exit loses nothing) or at a second signal.
        using var cancel = new CancellationTokenSource();
        Action<PosixSignalContext> onSignal = context =>
        {
            if (cancel.IsCancellationRequested) return;
            context.Cancel = true;
            cancel.Cancel();
            _ = Task.Delay(TimeSpan.FromSeconds(5)).ContinueWith(_ => Environment.Exit(130), TaskScheduler.Default);
        };
        using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, onSignal);
        using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, onSignal);
        try
        {
            return await parse.InvokeAsync(new InvocationConfiguration { EnableDefaultExceptionHandler = false, ProcessTerminationTimeout = null }, cancel.Token);
        }
        catch (Exception e) when (IsUserError(e))
        {
            await Console.Error.WriteLineAsync($"selfalign: error: {e.Message}");
            if (verbose) await Console.Error.WriteLineAsync(e.ToString());
            return UsageError;
        }
        catch (OperationCanceledException)
        {
            await Console.Error.WriteLineAsync("selfalign: cancelled");
            return 130;
        }
    }

    private static bool IsUserError(Exception e) => e is GgufFormatException or ModelLoadException or PromptTooLongException
        or JsonlFormatException or NativeLibraryException or FileNotFoundException or DirectoryNotFoundException
        or ArgumentException or FormatException or JsonException or UnauthorizedAccessException or InvalidOperationException
        or IOException;
}

using System.CommandLine;
using System.CommandLine.Help;
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
    public const int InternalError = 1;
    public const int Cancelled = 130;

    public static readonly Option<bool> Verbose = new("--verbose") { Description = "Show llama.cpp's log and stack traces", Recursive = true };

    public static Command BuildRoot()
    {
        // A plain command named as users call it: RootCommand takes its name from the assembly (SelfAlign.Cli).
        var root = new Command("selfalign", "SelfAlign: align a language model with minimal human supervision (Self-Align and RAIN on llama.cpp)")
        {
            new HelpOption(), new VersionOption(), Verbose,
        };
        root.Subcommands.Add(ModelCommand.Build());
        root.Subcommands.Add(GenerateCommand.Build());
        root.Subcommands.Add(ScoreCommand.Build());
        root.Subcommands.Add(TrainCommand.Build());
        root.Subcommands.Add(AlignCommand.Build());
        root.Subcommands.Add(RainCommand.Build());
        root.Subcommands.Add(EvalCommand.Build());
        root.Subcommands.Add(ServeCommand.Build());
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
            await Console.Error.WriteLineAsync($"selfalign: {OneLine(parse.Errors[0].Message)}");
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
            _ = Task.Delay(TimeSpan.FromSeconds(5)).ContinueWith(_ => Environment.Exit(Cancelled), TaskScheduler.Default);
        };
        using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, onSignal);
        using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, onSignal);
        try
        {
            return await parse.InvokeAsync(new InvocationConfiguration { EnableDefaultExceptionHandler = false, ProcessTerminationTimeout = null }, cancel.Token);
        }
        catch (OperationCanceledException)
        {
            await Console.Error.WriteLineAsync("selfalign: cancelled");
            return Cancelled;
        }
        catch (Exception e) when (IsBadInput(e))
        {
            await Console.Error.WriteLineAsync($"selfalign: error: {OneLine(e.Message)}");
            if (verbose) await Console.Error.WriteLineAsync(e.ToString());
            return UsageError;
        }
        catch (Exception e)
        {
            // Anything else escaping the library is a bug, and says so rather than posing as a usage error.
            await Console.Error.WriteLineAsync($"selfalign: internal error: {e.GetType().Name}: {OneLine(e.Message)}; " +
                (verbose ? "the trace follows" : "run with --verbose for the trace"));
            if (verbose) await Console.Error.WriteLineAsync(e.ToString());
            return InternalError;
        }
    }

    private static string OneLine(string message) => string.Join(" ", message.Split(['\n', '\r', '\t'], StringSplitOptions.RemoveEmptyEntries));

    /// <summary>Bad input: the library's own verdict, or the file system refusing a path the user gave.</summary>
    private static bool IsBadInput(Exception e) =>
        e is InvalidInputException or FileNotFoundException or DirectoryNotFoundException or UnauthorizedAccessException;
}

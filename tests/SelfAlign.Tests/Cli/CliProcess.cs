using System.Diagnostics;

namespace SelfAlign.Tests.Cli;

/// <summary>Runs the selfalign command as a separate process, as a user would.</summary>
public static class CliProcess
{
    public sealed record Outcome(int ExitCode, string Stdout, string Stderr);

    /// <summary>The command's assembly, run with <c>dotnet</c>.</summary>
    public static string Dll { get; } = Path.Combine(AppContext.BaseDirectory, "SelfAlign.Cli.dll");

    public static Outcome Run(params string[] args)
    {
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        psi.ArgumentList.Add(Dll);
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        p.WaitForExit();
        return new Outcome(p.ExitCode, stdout.Result, stderr.Result);
    }
}

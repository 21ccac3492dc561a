using System.Diagnostics;
using System.Text.Json.Nodes;

namespace SelfAlign.Tests.Cli;

/// <summary><c>selfalign serve --port 0 --json</c> as a separate process: started, its address read from its first line, stopped by SIGTERM.</summary>
public sealed class ServeProcess : IDisposable
{
    private readonly Process _process;
    private readonly Task<string> _stderr;

    private ServeProcess(Process process, Uri address)
    {
        _process = process;
        Address = address;
        _stderr = process.StandardError.ReadToEndAsync();
    }

    public Uri Address { get; }
    public Uri V1 => new(Address, "v1/");

    public static async Task<ServeProcess> StartAsync(params string[] args)
    {
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in (string[])[CliProcess.Dll, "serve", "--port", "0", "--json", .. args]) psi.ArgumentList.Add(a);
        var p = Process.Start(psi)!;
        // the first line is printed once the server listens; a bound on the wait keeps a broken start from hanging the tests
        var line = await p.StandardOutput.ReadLineAsync().WaitAsync(TimeSpan.FromMinutes(5));
        if (line is null)
        {
            var error = await p.StandardError.ReadToEndAsync();
            p.Dispose();
            throw new InvalidOperationException($"selfalign serve exited before listening: {error}");
        }
        return new ServeProcess(p, new Uri((string)JsonNode.Parse(line)!["address"]!));
    }

    /// <summary>SIGTERM, as an operator's service manager stops it; the exit code and stderr once it has exited.</summary>
    public async Task<(int ExitCode, string Stderr)> StopAsync()
    {
        using (var kill = Process.Start("kill", ["-TERM", _process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)])) await kill.WaitForExitAsync();
        await _process.WaitForExitAsync().WaitAsync(TimeSpan.FromMinutes(2));
        return (_process.ExitCode, await _stderr);
    }

    public void Dispose()
    {
        if (!_process.HasExited) _process.Kill(entireProcessTree: true);
        _process.Dispose();
    }
}

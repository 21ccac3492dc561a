using System.Diagnostics;

namespace SelfAlign.Tests;

/// <summary>Debian's Chromium, headless, on a local file (the test project installs it when missing).</summary>
public static class HeadlessChromium
{
    public const string Executable = "/usr/bin/chromium";

    /// <summary>The page's DOM once its scripts have run.</summary>
    public static string DumpDom(string htmlPath) => Run("--dump-dom", new Uri(Path.GetFullPath(htmlPath)).AbsoluteUri);

    /// <summary>A screenshot of the page, for a person to look at.</summary>
    public static void Screenshot(string htmlPath, string pngPath, int width = 1100, int height = 1400) =>
        Run($"--screenshot={Path.GetFullPath(pngPath)}", $"--window-size={width},{height}", new Uri(Path.GetFullPath(htmlPath)).AbsoluteUri);

    private static string Run(params string[] args)
    {
        // the flags keep Chromium off the network (closed here) and out of any profile of its own
        var profile = Directory.CreateTempSubdirectory("selfalign-chromium-");
        var psi = new ProcessStartInfo(Executable) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var flag in new[] { "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                     "--disable-component-update", "--disable-sync", $"--user-data-dir={profile.FullName}" }.Concat(args))
            psi.ArgumentList.Add(flag);
        try
        {
            using var p = Process.Start(psi)!;
            var stdout = p.StandardOutput.ReadToEndAsync();
            var stderr = p.StandardError.ReadToEndAsync();
            p.WaitForExit();
            if (p.ExitCode != 0) throw new InvalidOperationException($"chromium exited with {p.ExitCode}: {stderr.Result}");
            return stdout.Result;
        }
        finally { profile.Delete(recursive: true); }
    }
}

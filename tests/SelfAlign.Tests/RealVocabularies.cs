using System.Diagnostics;

namespace SelfAlign.Tests;

/// <summary>
/// Tokenizer-only GGUFs of real vocabularies (llama SPM, qwen2 BPE, ...) with llama.cpp's own test vectors.
/// They come from the pinned npm package node-llama-cpp@3.22.1, whose git bundle holds llama.cpp's models/
/// folder; fetched once into .cache/vocab at the repository root (nothing of it is committed).
/// </summary>
public static class RealVocabularies
{
    private static readonly Lazy<string> Dir = new(Fetch);
    private static readonly Lock FetchLock = new();

    /// <summary>Path of models/ggml-vocab-NAME.gguf; its .inp and .out test vectors sit beside it.</summary>
    public static string Get(string name)
    {
        var path = Path.Combine(Dir.Value, $"ggml-vocab-{name}.gguf");
        lock (FetchLock)
        {
            if (!File.Exists(path))
                foreach (var suffix in new[] { "", ".inp", ".out" })
                    Run("git", $"-C \"{Path.Combine(Dir.Value, "bundle")}\" show HEAD:models/ggml-vocab-{name}.gguf{suffix}", path + suffix);
        }
        return path;
    }

    private static string Fetch()
    {
        var dir = Path.Combine(Repository.CacheDirectory, "vocab");
        var bundleRepo = Path.Combine(dir, "bundle");
        if (Directory.Exists(Path.Combine(bundleRepo, ".git"))) return dir;
        Directory.CreateDirectory(dir);
        Run("npm", "pack node-llama-cpp@3.22.1 --silent", null, dir);
        Run("tar", "xzf node-llama-cpp-3.22.1.tgz package/llama/gitRelease.bundle", null, dir);
        Run("git", $"clone --quiet --no-checkout package/llama/gitRelease.bundle \"{bundleRepo}\"", null, dir);
        File.Delete(Path.Combine(dir, "node-llama-cpp-3.22.1.tgz"));
        return dir;
    }

    private static void Run(string file, string args, string? stdoutPath, string? workDir = null)
    {
        var psi = new ProcessStartInfo(file, args) { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = workDir ?? "" };
        using var p = Process.Start(psi)!;
        using (var output = stdoutPath is null ? Stream.Null : File.Create(stdoutPath)) p.StandardOutput.BaseStream.CopyTo(output);
        var err = p.StandardError.ReadToEnd();
        p.WaitForExit();
        if (p.ExitCode != 0) throw new InvalidOperationException($"{file} {args} failed: {err}");
    }
}

using SelfAlign.Models;
using SelfAlign.Testbed;

namespace SelfAlign.Cli.Commands;

/// <summary>Models the commands make on first use and cache under .cache/ in the working directory.</summary>
internal static class DefaultModels
{
    /// <summary>Where made models are cached: $SELFALIGN_CACHE, or .cache in the working directory.</summary>
    public static string CacheRoot => Environment.GetEnvironmentVariable("SELFALIGN_CACHE") ?? ".cache";

    public static string CacheDirectory => Path.Combine(CacheRoot, "models");

    public static string TestbedCacheDirectory => Path.Combine(CacheRoot, "testbed");

    /// <summary>The repository's models/testbed, holding the testbed models its build script made (null outside a clone).</summary>
    public static string? TestbedPrebuiltDirectory => RepositoryFile(Path.Combine("models", "testbed"));

    /// <summary>The testbed build options the commands use: the default recipe, prebuilt models first.</summary>
    public static TestbedBuildOptions Testbed(TestbedLevel level) => new() { Level = level, PrebuiltDirectory = TestbedPrebuiltDirectory };

    /// <summary>Self-Align run options that find "testbed:LEVEL" base models where the other commands do.</summary>
    public static SelfAlign.Pipeline.AlignRunOptions AlignRun() =>
        new() { BaseModels = new TestbedBaseModels(TestbedCacheDirectory, TestbedPrebuiltDirectory) };

    /// <summary>A file or directory of the repository this command runs in or was built from; null when there is none.</summary>
    public static string? RepositoryFile(string relativePath)
    {
        foreach (var start in new[] { Directory.GetCurrentDirectory(), AppContext.BaseDirectory })
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
            {
                var candidate = Path.Combine(dir.FullName, relativePath);
                if (File.Exists(candidate) || Directory.Exists(candidate)) return candidate;
            }
        return null;
    }

    /// <summary>A random-weight llama with SmolLM2-135M's shapes.</summary>
    public static string Synthetic135M() => Synthetic("llama", "135m");

    /// <summary>A random-weight model of a preset shape (135m: SmolLM2-135M as llama; 0.5b: Qwen2.5-0.5B as qwen2).</summary>
    public static string Synthetic(string arch, string preset)
    {
        Directory.CreateDirectory(CacheDirectory);
        var path = Path.Combine(CacheDirectory, $"synthetic-{arch}-{preset}.gguf");
        if (!File.Exists(path))
        {
            Console.Error.WriteLine($"making synthetic {preset} model at {path}");
            SyntheticModelBuilder.Write(path, new SyntheticModelBuilder.Options { Shape = ModelShape.Preset(arch, preset), Seed = 1 });
        }
        return path;
    }
}

using SelfAlign.Models;

namespace SelfAlign.Cli.Commands;

/// <summary>Models the commands make on first use and cache under .cache/ in the working directory.</summary>
internal static class DefaultModels
{
    /// <summary>Where made models are cached: $SELFALIGN_CACHE, or .cache in the working directory.</summary>
    public static string CacheRoot => Environment.GetEnvironmentVariable("SELFALIGN_CACHE") ?? ".cache";

    public static string CacheDirectory => Path.Combine(CacheRoot, "models");

    /// <summary>A random-weight llama with SmolLM2-135M's shapes.</summary>
    public static string Synthetic135M()
    {
        Directory.CreateDirectory(CacheDirectory);
        var path = Path.Combine(CacheDirectory, "synthetic-llama-135m.gguf");
        if (!File.Exists(path))
        {
            Console.Error.WriteLine($"making synthetic 135m model at {path}");
            SyntheticModelBuilder.Write(path, new SyntheticModelBuilder.Options { Shape = ModelShape.Preset("llama", "135m"), Seed = 1 });
        }
        return path;
    }
}

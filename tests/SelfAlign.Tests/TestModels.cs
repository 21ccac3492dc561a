using SelfAlign.Models;

namespace SelfAlign.Tests;

/// <summary>Synthetic models made once per test run, shared by the tests that need a real model.</summary>
public static class TestModels
{
    private static readonly Lazy<string> TinyLlamaPath = new(() => Make("tiny-llama", ModelShape.Preset("llama", "tiny"), 7));
    private static readonly Lazy<string> Deep30Path = new(() =>
        Make("deep30-llama", ModelShape.Preset("llama", "tiny") with { Layers = 30, ContextLength = 512 }, 5));
    private static readonly Lazy<string> TinyQwenPath = new(() => Make("tiny-qwen2", ModelShape.Preset("qwen2", "tiny"), 11));
    private static readonly Lazy<string> WideLlamaPath = new(() =>
        Make("wide-llama", ModelShape.Preset("llama", "tiny") with { Embedding = 256, FeedForward = 768, VocabSize = 16384 }, 13));

    public static string Directory { get; } = CreateDirectory();

    /// <summary>llama shape, 2 layers, 64 wide, the built-in byte-fallback vocabulary of 512 tokens.</summary>
    public static string TinyLlama => TinyLlamaPath.Value;
    public static string TinyQwen2 => TinyQwenPath.Value;
    /// <summary>Tiny depth, but about 40 MB of weights: large enough that one leaked copy stands out of memory noise.</summary>
    public static string WideLlama => WideLlamaPath.Value;
    /// <summary>30 layers (SmolLM2-135M's depth) at tiny width: deep enough to hit the training-graph limit.</summary>
    public static string Deep30 => Deep30Path.Value;

    private static string CreateDirectory()
    {
        var dir = Path.Combine(Path.GetTempPath(), "selfalign-tests", Environment.ProcessId.ToString());
        System.IO.Directory.CreateDirectory(dir);
        return dir;
    }

    private static string Make(string name, ModelShape shape, ulong seed)
    {
        var path = Path.Combine(Directory, name + ".gguf");
        // A larger init scale than real models use, so random logits are peaked and greedy choices are not near-ties.
        SyntheticModelBuilder.Write(path, new SyntheticModelBuilder.Options { Shape = shape, Seed = seed, InitScale = 0.5f });
        return path;
    }
}

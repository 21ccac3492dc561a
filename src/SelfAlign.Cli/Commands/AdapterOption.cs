using System.CommandLine;
using System.Globalization;
using SelfAlign.Models;

namespace SelfAlign.Cli.Commands;

/// <summary><c>--adapter A.gguf[:SCALE]</c> (repeatable): LoRA adapters applied at decode time, without merging.</summary>
internal static class AdapterOption
{
    public static Option<string[]> Create() =>
        new("--adapter") { Description = "LoRA adapter GGUF to apply, optionally with :SCALE (default 1); repeatable", AllowMultipleArgumentsPerToken = false };

    /// <summary>Loads each adapter for <paramref name="model"/>; they live as long as the model.</summary>
    public static IReadOnlyList<(LoraAdapter Adapter, float Scale)> Load(ParseResult p, Option<string[]> option, LlamaModel model) =>
        (p.GetValue(option) ?? []).Select(spec =>
        {
            var (path, scale) = ParseSpec(spec);
            return (LoraAdapter.Load(model, path), scale);
        }).ToList();

    /// <summary>Splits <c>A.gguf[:SCALE]</c>.</summary>
    public static (string Path, float Scale) ParseSpec(string spec)
    {
        var (path, scale) = (spec, 1f);
        var colon = spec.LastIndexOf(':');
        if (colon > 0 && float.TryParse(spec[(colon + 1)..], NumberStyles.Float, CultureInfo.InvariantCulture, out var s))
            (path, scale) = (spec[..colon], s);
        if (!float.IsFinite(scale)) throw new InvalidInputException($"--adapter {spec}: the scale must be a finite number");
        return (path, scale);
    }
}

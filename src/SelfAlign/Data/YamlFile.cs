using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;
using YamlDotNet.Serialization;
using YamlDotNet.Serialization.NamingConventions;

namespace SelfAlign.Data;

/// <summary>Reads the project's YAML data files (snake_case keys, <see cref="EnumNames"/> values); errors name the file and line,
/// and unknown keys are refused.</summary>
public static class YamlFile
{
    private static readonly IDeserializer Deserializer = new DeserializerBuilder()
        .WithNamingConvention(UnderscoredNamingConvention.Instance).WithTypeConverter(new YamlEnumConverter()).Build();

    /// <exception cref="InvalidInputException">the file does not exist, or "FILE:LINE: problem" (an unknown key, a value of
    /// the wrong type).</exception>
    public static T Read<T>(string path, string what = "file") where T : new()
    {
        if (!File.Exists(path)) throw new InvalidInputException($"{what} not found: {path}");
        return Parse<T>(File.ReadAllText(path), path);
    }

    /// <summary>
    /// Reads the file, then again with each "dotted.key=value" override set (the value is YAML: 64, [0, 1], text), so a run
    /// can be made smaller from the command line without editing its file.
    /// </summary>
    public static T Read<T>(string path, string what, IReadOnlyList<string> overrides) where T : new()
    {
        var parsed = Read<T>(path, what); // errors of the file itself name its own lines
        if (overrides.Count == 0) return parsed;
        var stream = new YamlStream();
        stream.Load(new StringReader(File.ReadAllText(path)));
        var root = stream.Documents.Count > 0 && stream.Documents[0].RootNode is YamlMappingNode m ? m : new YamlMappingNode();
        foreach (var o in overrides)
        {
            var eq = o.IndexOf('=', StringComparison.Ordinal);
            if (eq <= 0) throw new InvalidInputException($"--set {o}: write KEY=VALUE, e.g. self_instruct.requests=64");
            var keys = o[..eq].Trim().Split('.');
            var node = root;
            foreach (var key in keys[..^1])
            {
                if (!node.Children.TryGetValue(new YamlScalarNode(key), out var child)) node.Children[new YamlScalarNode(key)] = child = new YamlMappingNode();
                node = child as YamlMappingNode ?? throw new InvalidInputException($"--set {o}: '{key}' is not a section");
            }
            var value = new YamlStream();
            value.Load(new StringReader(o[(eq + 1)..]));
            node.Children[new YamlScalarNode(keys[^1])] = value.Documents.Count > 0 ? value.Documents[0].RootNode : new YamlScalarNode("");
        }
        using var writer = new StringWriter();
        new YamlStream(new YamlDocument(root)).Save(writer, assignAnchors: false);
        return Parse<T>(writer.ToString(), $"{path} with --set {string.Join(" --set ", overrides)}");
    }

    public static T Parse<T>(string text, string source) where T : new()
    {
        try { return Deserializer.Deserialize<T>(text) ?? new T(); }
        catch (YamlException e)
        {
            var message = (e.InnerException?.Message ?? e.Message).Split('\n')[0];
            if (message.Contains("not found on type", StringComparison.Ordinal))
                message = $"unknown key ({message.Split('\'').ElementAtOrDefault(1) ?? message})";
            throw new InvalidInputException($"{source}:{e.Start.Line}: {message}");
        }
    }
}

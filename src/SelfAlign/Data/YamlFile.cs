using YamlDotNet.Core;
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

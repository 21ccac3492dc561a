using System.Text.Json;
using System.Text.Json.Serialization;
using SelfAlign.Data;

namespace SelfAlign.Cli.Output;

/// <summary>One JSON object on standard output, snake_case keys and kebab-case enum values, for commands run with --json.</summary>
internal static class JsonOutput
{
    public static readonly JsonSerializerOptions Options = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        WriteIndented = true,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
        Converters = { new JsonStringEnumConverter(EnumNames.Policy) },
    };

    public static void Print(object value) => Console.WriteLine(JsonSerializer.Serialize(value, value.GetType(), Options));

    /// <summary>The same on one line, for a long-running command whose first line a script waits for.</summary>
    public static void PrintLine(object value) => Console.WriteLine(JsonSerializer.Serialize(value, value.GetType(), OneLine));

    private static readonly JsonSerializerOptions OneLine = new(Options) { WriteIndented = false };
}

using System.Text.Json;

namespace SelfAlign.Data;

/// <summary>
/// Enum values as users type and read them, the same in YAML, JSON and on the command line: kebab-case
/// (<c>feed-forward</c>, <c>requests-and-answers</c>). Parsing also accepts the member name in any case.
/// </summary>
public static class EnumNames
{
    public static readonly JsonNamingPolicy Policy = JsonNamingPolicy.KebabCaseLower;

    public static string Of<T>(T value) where T : struct, Enum => Policy.ConvertName(value.ToString());

    public static IReadOnlyList<string> All<T>() where T : struct, Enum => All(typeof(T));

    public static IReadOnlyList<string> All(Type enumType) => Enum.GetNames(enumType).Select(Policy.ConvertName).ToList();

    /// <exception cref="InvalidInputException">the text names no value; the message lists them.</exception>
    public static T Parse<T>(string text, string what) where T : struct, Enum => (T)Parse(typeof(T), text, what);

    /// <exception cref="InvalidInputException">the text names no value; the message lists them.</exception>
    public static object Parse(Type enumType, string text, string what)
    {
        foreach (var name in Enum.GetNames(enumType))
            if (string.Equals(text, Policy.ConvertName(name), StringComparison.OrdinalIgnoreCase) || string.Equals(text, name, StringComparison.OrdinalIgnoreCase))
                return Enum.Parse(enumType, name);
        throw new InvalidInputException($"{what} '{text}' is not one of {string.Join(", ", All(enumType))}");
    }
}

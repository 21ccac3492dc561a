using System.CommandLine;
using SelfAlign.Data;

namespace SelfAlign.Cli.Commands;

/// <summary>An option whose values are spelled as in the run config's YAML (<see cref="EnumNames"/>: <c>feed-forward</c>).</summary>
internal static class EnumOption
{
    public static Option<T> Create<T>(string name, string description, T defaultValue) where T : struct, Enum => new(name)
    {
        Description = description,
        HelpName = string.Join("|", EnumNames.All<T>()),
        DefaultValueFactory = _ => defaultValue,
        CustomParser = result =>
        {
            try { return EnumNames.Parse<T>(result.Tokens.Single().Value, name); }
            catch (InvalidInputException e) { result.AddError(e.Message); return defaultValue; }
        },
    };
}
